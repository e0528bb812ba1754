using System.Globalization;

namespace Isems.Dashboard;

/// <summary>
/// The viewer's time zone (UTC until the browser has told it, which happens right after the page becomes
/// interactive), and how times and numbers are written for them: absolute in their zone, relative to now, with units.
/// </summary>
public sealed record Viewer(TimeZoneInfo Zone)
{
    public static readonly Viewer Utc = new(TimeZoneInfo.Utc);

    public static Viewer For(string? ianaZone)
    {
        try
        {
            return string.IsNullOrWhiteSpace(ianaZone) ? Utc : new Viewer(TimeZoneInfo.FindSystemTimeZoneById(ianaZone));
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return Utc;
        }
    }

    public DateTime Local(DateTimeOffset at) => TimeZoneInfo.ConvertTime(at, Zone).DateTime;

    /// <summary><c>2026-12-02 01:23:45 CET</c>: the instant in the viewer's zone, with the zone named.</summary>
    public string Absolute(DateTimeOffset at)
    {
        var local = TimeZoneInfo.ConvertTime(at, Zone);
        return local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " " + ZoneLabel(local);
    }

    private string ZoneLabel(DateTimeOffset local)
    {
        if (Zone == TimeZoneInfo.Utc) return "UTC";
        var offset = local.Offset;
        // The zone's name is in the page's footer; each time carries its offset, which is what makes it unambiguous.
        return "UTC" + (offset < TimeSpan.Zero ? "−" : "+") + offset.ToString(@"hh\:mm", CultureInfo.InvariantCulture);
    }

    /// <summary><c>3 min ago</c>, <c>in 20 s</c>.</summary>
    public static string Relative(DateTimeOffset at, DateTimeOffset now)
    {
        var span = now - at;
        var future = span < TimeSpan.Zero;
        if (future) span = -span;
        string text = span.TotalSeconds < 1 ? "now"
            : span.TotalSeconds < 60 ? $"{(int)span.TotalSeconds} s"
            : span.TotalMinutes < 60 ? $"{(int)span.TotalMinutes} min"
            : span.TotalHours < 48 ? $"{(int)span.TotalHours} h"
            : $"{(int)span.TotalDays} d";
        return text == "now" ? text : future ? "in " + text : text + " ago";
    }

    public static string Number(double value, string unit, int decimals) =>
        value.ToString("F" + decimals, CultureInfo.InvariantCulture) + "\u2009" + unit;
}
