using Isems.LineFormat;

namespace Isems.Storage.Legacy;

/// <summary>What an import did. Every row read is stored, a duplicate, or rejected (by reason).</summary>
public sealed record LegacyImportReport(
    long Read,
    long Stored,
    long Duplicates,
    IReadOnlyDictionary<string, long> Rejected,
    long RepeatedHourAsSummerTime,
    long RepeatedHourAsWinterTime,
    long SkippedHour,
    string? FirstRejection)
{
    public long RejectedTotal => Rejected.Values.Sum();
}

/// <summary>
/// Copies the original's rows into the store: page by page in id order, each page one <see cref="MeasurementStore.WriteAsync"/>
/// (one short transaction that ignores rows already stored), so a million rows never sit in memory and the collector's
/// own writes get the database between two pages. Running it again stores nothing new.
/// </summary>
public static class LegacyImporter
{
    public const int DefaultBatchSize = 5_000;

    public static async Task<LegacyImportReport> ImportAsync(LegacyDatabase source, MeasurementStore target, long nowUnixSeconds,
        int batchSize = DefaultBatchSize, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var converter = new LegacyRowConverter(nowUnixSeconds);
        var rejected = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long read = 0, stored = 0, duplicates = 0, summer = 0, winter = 0, skipped = 0;
        string? firstRejection = null;
        var batch = new List<Measurement>(batchSize);

        foreach (var page in source.ReadPages(batchSize, ct))
        {
            batch.Clear();
            foreach (var row in page)
            {
                read++;
                var conversion = converter.Convert(row);
                if (conversion.Measurement is null)
                {
                    rejected[conversion.RejectReason!] = rejected.GetValueOrDefault(conversion.RejectReason!) + 1;
                    firstRejection ??= conversion.Message;
                    continue;
                }
                if (conversion.Kind == WallClockKind.Repeated)
                {
                    if (conversion.SecondPass) winter++;
                    else summer++;
                }
                else if (conversion.Kind == WallClockKind.Skipped) skipped++;
                batch.Add(conversion.Measurement);
            }
            if (batch.Count > 0)
            {
                var outcome = (await target.WriteAsync([batch], ct).ConfigureAwait(false))[0];
                stored += outcome.Stored;
                duplicates += outcome.Duplicates;
            }
        }
        return new LegacyImportReport(read, stored, duplicates, rejected, summer, winter, skipped, firstRejection);
    }
}
