using System.Globalization;
using System.Text.RegularExpressions;
using Isems.Storage;

namespace Isems.Api.Controllers;

/// <summary>A history or export range after checking (SPEC §6): [From, To) in Unix seconds.</summary>
public sealed record HistoryRange(long From, long To);

/// <summary>
/// Reads the query parameters of <c>/history</c> and <c>/export</c>. Every problem becomes a sentence saying what to
/// change (the caller answers it as a 400), never an exception.
/// </summary>
public static partial class HistoryParameters
{
    public const long MaxRangeSeconds = 3_652L * 86_400; // 10 years, leap days included
    public const long MinBucketSeconds = 60;
    public const long MaxBucketSeconds = 7 * 86_400;
    public const int MaxRawRows = 100_000;
    public const int MaxPoints = 10_000;

    /// <summary>Every key of a measurement, for <c>fields</c> in the raw form.</summary>
    public static readonly IReadOnlySet<string> MeasurementKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "batteryChargeEstimate", "batteryHealthEstimate", "batteryTemperature", "batteryVoltage", "id", "isPowerSaveMode",
        "isemsRevision", "latitude", "longitude", "lowVoltageDisconnectVoltage", "mppVoltage", "nodeId", "openCircuitVoltage",
        "openMPPTFirmwareVersion", "rateBatteryCapacity", "ratedSolarModuleCapacity", "status", "temperatureCorrectedVoltage",
        "timeToShutdown", "timestamp",
    };

    public static string? TryRange(string? from, string? to, DateTimeOffset now, out HistoryRange range)
    {
        range = new HistoryRange(0, 0);
        long end;
        if (string.IsNullOrEmpty(to)) end = now.ToUnixTimeSeconds();
        else if (TryInstant(to, out end) is { } problem) return $"to: {problem}";
        long start;
        if (string.IsNullOrEmpty(from)) start = end - 86_400;
        else if (TryInstant(from, out start) is { } problem) return $"from: {problem}";
        if (start < 946_684_800 && end <= 946_684_800)
            return "The range ends before 2000, where no measurement can be (their timestamps start in 2001): give a later to.";
        if (start >= end)
            return $"from ({Iso(start)}) must be before to ({Iso(end)}): from is inclusive, to exclusive.";
        if (end - start > MaxRangeSeconds)
            return $"The range from {Iso(start)} to {Iso(end)} is longer than 10 years: ask for a shorter one, in several requests.";
        range = new HistoryRange(start, end);
        return null;
    }

    /// <summary>An ISO 8601 instant with its offset, or Unix seconds; a fraction rounds up (from inclusive, to exclusive).</summary>
    private static string? TryInstant(string text, out long seconds)
    {
        seconds = 0;
        var s = text.Trim();
        if (UnixSeconds().IsMatch(s))
        {
            if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seconds) ||
                seconds < -62_135_596_800 || seconds > 253_402_300_799)
                return $"'{text}' is out of range for Unix seconds.";
            return null;
        }
        // A '+' of an offset sent unencoded arrives as a space.
        s = WithSpaceOffset().Replace(s, "+$1");
        if (!WithOffset().IsMatch(s) ||
            !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
            return $"'{text}' is not an instant: give ISO 8601 with an offset (2026-11-30T00:00:00Z, 2026-11-30T01:00:00%2B01:00) or Unix seconds (1764460800).";
        var ms = instant.ToUnixTimeMilliseconds();
        seconds = ms >= 0 ? (ms + 999) / 1000 : -(-ms / 1000);
        return null;
    }

    /// <summary><c>raw</c> (null seconds) or a duration from 1 minute to 7 days: <c>5m</c>, <c>1h</c>, <c>1d</c>.</summary>
    public static string? TryBucket(string? text, out long? seconds, out string name)
    {
        seconds = null;
        name = "raw";
        if (string.IsNullOrEmpty(text) || text == "raw") return null;
        var match = Duration().Match(text);
        if (!match.Success)
            return $"bucket '{text}' is not 'raw' or a duration such as 1m, 15m, 1h, 6h, 1d or 7d (a whole number and m, h or d).";
        var n = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var unit = match.Groups[2].Value[0];
        var size = n * (unit == 'm' ? 60 : unit == 'h' ? 3_600 : 86_400);
        if (size < MinBucketSeconds || size > MaxBucketSeconds)
            return $"bucket '{text}' must be from 1m to 7d.";
        seconds = size;
        name = $"{n}{unit}";
        return null;
    }

    /// <summary>
    /// The keys to keep: null for all. In the bucketed form only the aggregated keys (and count, status) exist.
    /// </summary>
    public static string? TryFields(string? text, bool bucketed, out IReadOnlySet<string>? keep)
    {
        keep = null;
        if (string.IsNullOrEmpty(text)) return null;
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0) return $"fields '{text}' has an empty name: list keys separated by commas, e.g. fields=batteryVoltage,batteryChargeEstimate.";
            var known = bucketed
                ? part is "count" or "status" or "time" || Rollups.Keys.Contains(part)
                : MeasurementKeys.Contains(part);
            if (!known)
                return bucketed && MeasurementKeys.Contains(part)
                    ? $"fields: '{part}' is not aggregated in buckets; the keys of a bucket are {string.Join(", ", Rollups.Keys)} (and count, status)."
                    : $"fields: '{part}' is not a key; the keys are {string.Join(", ", bucketed ? Rollups.Keys : MeasurementKeys.Order(StringComparer.Ordinal))}.";
            set.Add(part);
        }
        keep = set;
        return null;
    }

    public static string? TryFormat(string? text, out bool lines)
    {
        lines = false;
        if (string.IsNullOrEmpty(text) || text == "csv") return null;
        if (text == "lines")
        {
            lines = true;
            return null;
        }
        return $"format '{text}' is not known: use csv (the default) or lines.";
    }

    public static string Iso(long seconds) =>
        DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^-?\d{1,19}$")]
    private static partial Regex UnixSeconds();

    [GeneratedRegex(@" (\d\d(:?\d\d)?)$")]
    private static partial Regex WithSpaceOffset();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?([Zz]|[+-]\d\d(:?\d\d)?)$")]
    private static partial Regex WithOffset();

    [GeneratedRegex(@"^([1-9]\d{0,5})([mhd])$")]
    private static partial Regex Duration();
}
