using Isems.Server.Configuration;
using Isems.Storage;
using Isems.Storage.Legacy;

namespace Isems.Server.Commands;

/// <summary>
/// <c>import-legacy &lt;path&gt;</c>: copies the original collector's SQLite database into DATABASE_URL, turning its
/// Berlin wall-clock timestamps into UTC instants, and prints one line per count. Safe to run again (rows already there
/// count as duplicates) and beside the running service (each page is one short write transaction).
/// </summary>
public static class ImportLegacyCommand
{
    public const string Usage =
        "Usage: Isems.Server import-legacy <path of the original collector's SQLite database> [--DATABASE_URL=...]";

    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null,
        CancellationToken ct = default)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var paths = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (paths.Count != 1)
        {
            await error.WriteLineAsync(paths.Count == 0 ? Usage : $"Give one file, not {paths.Count}. {Usage}");
            return 2;
        }

        var configuration = Host.CreateApplicationBuilder(args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToArray()).Configuration;
        DatabaseTarget target;
        try
        {
            var options = configuration.Get<CollectorOptions>() ?? new CollectorOptions();
            target = DatabaseTarget.Parse(options.DatabaseUrl, Directory.GetCurrentDirectory());
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            await error.WriteLineAsync($"Configuration error: {e.Message}");
            return 2;
        }

        LegacyDatabase source;
        try
        {
            _ = BerlinTime.Zone; // without tzdata, stop here rather than after creating the target's tables
            source = LegacyDatabase.Open(paths[0]);
        }
        catch (Exception e) when (e is LegacyDatabaseException or InvalidOperationException)
        {
            await error.WriteLineAsync($"import-legacy: {e.Message}");
            return 2;
        }

        using (source)
        {
            try
            {
                using var store = new MeasurementStore(target);
                store.Migrate();
                var report = await LegacyImporter.ImportAsync(source, store, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ct: ct);
                foreach (var line in Describe(report)) await output.WriteLineAsync(line);
                if (report.FirstRejection is not null) await error.WriteLineAsync($"first rejected row: {report.FirstRejection}");
                return 0;
            }
            catch (OperationCanceledException)
            {
                await error.WriteLineAsync("import-legacy: cancelled; what was stored stays, and running it again continues (rows already stored count as duplicates).");
                return 1;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                await error.WriteLineAsync($"import-legacy: failed writing to {target.Describe()}: {e.Message}. What was stored stays; run it again to continue.");
                return 1;
            }
        }
    }

    /// <summary>One line per count, <c>name: number</c>.</summary>
    public static IEnumerable<string> Describe(LegacyImportReport report)
    {
        yield return $"read: {report.Read}";
        yield return $"stored: {report.Stored}";
        yield return $"duplicates: {report.Duplicates}";
        yield return $"rejected: {report.RejectedTotal}";
        foreach (var (reason, count) in report.Rejected) yield return $"rejected {reason}: {count}";
        yield return $"repeated autumn hour, read as summer time (+02:00): {report.RepeatedHourAsSummerTime}";
        yield return $"repeated autumn hour, read as winter time (+01:00): {report.RepeatedHourAsWinterTime}";
        yield return $"skipped spring hour, read as winter time (+01:00): {report.SkippedHour}";
    }
}
