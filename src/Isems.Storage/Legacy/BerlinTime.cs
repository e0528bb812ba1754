using System.Globalization;

namespace Isems.Storage.Legacy;

/// <summary>Where a Berlin wall-clock time falls around the daylight-saving changes.</summary>
public enum WallClockKind
{
    /// <summary>Happens once: one instant.</summary>
    Unique,

    /// <summary>In the autumn hour that happens twice (02:00–02:59:59 on the last Sunday of October).</summary>
    Repeated,

    /// <summary>In the spring hour that never happens (02:00–02:59:59 on the last Sunday of March).</summary>
    Skipped,
}

/// <summary>
/// The original collector's timestamps: Europe/Berlin wall-clock text without an offset, as SQLAlchemy stores a
/// DateTime in SQLite (<c>2018-09-18 07:52:42.000000</c>; older rows may lack the fraction), turned into UTC instants.
/// </summary>
public static class BerlinTime
{
    private static readonly Lazy<TimeZoneInfo> LazyZone = new(FindZone);

    private static readonly string[] Formats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
    ];

    /// <summary>Europe/Berlin from the system's time zone data (tzdata); a clear error when it is missing.</summary>
    public static TimeZoneInfo Zone => LazyZone.Value;

    /// <summary>Parses the wall-clock text; fractions of a second are dropped (the original stored whole seconds).</summary>
    public static bool TryParseWallClock(string? text, out DateTime wallClock)
    {
        wallClock = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        if (!DateTime.TryParseExact(text.Trim(), Formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            return false;
        wallClock = DateTime.SpecifyKind(parsed.AddTicks(-(parsed.Ticks % TimeSpan.TicksPerSecond)), DateTimeKind.Unspecified);
        return true;
    }

    public static WallClockKind Classify(DateTime wallClock) =>
        Zone.IsInvalidTime(wallClock) ? WallClockKind.Skipped
        : Zone.IsAmbiguousTime(wallClock) ? WallClockKind.Repeated
        : WallClockKind.Unique;

    /// <summary>
    /// The instant of a wall-clock time. In the repeated autumn hour, <paramref name="secondPass"/> picks winter time
    /// (+01:00) over summer time (+02:00). A time in the skipped spring hour is read with the offset in force before the
    /// change (+01:00), as a clock that had not been put forward yet would show it: 02:30 becomes 01:30Z, the instant
    /// shown as 03:30 after the change.
    /// </summary>
    public static DateTimeOffset ToInstant(DateTime wallClock, bool secondPass)
    {
        wallClock = DateTime.SpecifyKind(wallClock, DateTimeKind.Unspecified);
        var zone = Zone;
        TimeSpan offset;
        if (zone.IsInvalidTime(wallClock))
            offset = zone.GetUtcOffset(wallClock.AddHours(-2)); // before the gap; Berlin's gap is one hour
        else if (zone.IsAmbiguousTime(wallClock))
        {
            var offsets = zone.GetAmbiguousTimeOffsets(wallClock);
            offset = secondPass ? offsets.Min() : offsets.Max(); // the clock went back: the later pass has the smaller offset
        }
        else
            offset = zone.GetUtcOffset(wallClock);
        return new DateTimeOffset(wallClock, offset).ToUniversalTime();
    }

    private static TimeZoneInfo FindZone()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new InvalidOperationException(
                "The time zone Europe/Berlin is not on this machine, so the original's wall-clock timestamps cannot be " +
                "converted: install the time zone data (Debian/Ubuntu: apt-get install tzdata).", e);
        }
    }
}
