namespace Isems.Dashboard;

/// <summary>
/// The range a node's charts show, and the bucket asked of the history API for it: a few hundred points at most, so
/// a year is as quick to draw as a day.
/// </summary>
public sealed record HistoryRange(string Key, DateTimeOffset From, DateTimeOffset To, string Bucket)
{
    public static readonly (string Key, string Label, TimeSpan Span, string Bucket)[] Presets =
    [
        ("24h", "24 h", TimeSpan.FromHours(24), "5m"),
        ("7d", "7 d", TimeSpan.FromDays(7), "1h"),
        ("30d", "30 d", TimeSpan.FromDays(30), "6h"),
        ("1y", "1 y", TimeSpan.FromDays(365), "1d"),
    ];

    private static readonly (string Bucket, TimeSpan Size)[] Buckets =
    [
        ("1m", TimeSpan.FromMinutes(1)), ("5m", TimeSpan.FromMinutes(5)), ("15m", TimeSpan.FromMinutes(15)),
        ("1h", TimeSpan.FromHours(1)), ("6h", TimeSpan.FromHours(6)), ("1d", TimeSpan.FromDays(1)), ("7d", TimeSpan.FromDays(7)),
    ];

    /// <summary>The range a query names; anything unreadable falls back to the last 24 hours.</summary>
    public static HistoryRange Parse(string? key, long? from, long? to, DateTimeOffset now)
    {
        if (key == "custom" && Instant(from) is { } start && Instant(to) is { } end && start < end && end - start <= TimeSpan.FromDays(3650))
        {
            var span = end - start;
            var bucket = Buckets.FirstOrDefault(b => span / b.Size <= 400, Buckets[^1]).Bucket;
            return new HistoryRange("custom", start, end, bucket);
        }
        var preset = Presets.FirstOrDefault(p => p.Key == key, Presets[0]);
        return new HistoryRange(preset.Key, now - preset.Span, now, preset.Bucket);
    }

    public bool EndsNow => Key != "custom";

    private static DateTimeOffset? Instant(long? unixSeconds) =>
        unixSeconds is >= 0 and <= 253_402_300_799 ? DateTimeOffset.FromUnixTimeSeconds(unixSeconds.Value) : null;
}
