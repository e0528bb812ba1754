using Isems.LineFormat;
using Isems.Server.Commands;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class ImportLegacyCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DatabaseUrl => $"sqlite:///{_temp.File("isems.db")}";

    private static long At(int month, int day, int hour, int minute, int offsetHours) =>
        new DateTimeOffset(2019, month, day, hour, minute, 0, TimeSpan.FromHours(offsetHours)).ToUnixTimeSeconds();

    /// <summary>The original's file with a repeated autumn hour, a skipped spring hour and one row without a node id.</summary>
    private string Original()
    {
        var path = _temp.File("original.db");
        using var db = new OriginalCollectorDatabase(path);
        db.Insert("Elektra-Dach", "2019-03-31 02:15:00.000000");   // skipped hour: +01:00
        db.Insert("Elektra-Dach", "2019-10-27 02:30:00.000000");   // summer
        db.Insert("Elektra-Dach", "2019-10-27 02:50:00.000000");   // summer
        db.Insert("Elektra-Dach", "2019-10-27 02:10:00.000000");   // clock went back: winter
        db.Insert("Elektra-Dach", "2019-10-27 03:10:00");
        db.Insert("", "2019-10-27 03:10:00");
        return path;
    }

    private static async Task<(int Exit, string[] Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ImportLegacyCommand.RunAsync(args, output, error);
        return (exit, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), error.ToString());
    }

    [Fact]
    public async Task Prints_one_line_per_count_and_a_second_run_stores_nothing()
    {
        var original = Original();

        var first = await RunAsync(original, $"--DATABASE_URL={DatabaseUrl}");
        var second = await RunAsync(original, $"--DATABASE_URL={DatabaseUrl}");

        Assert.Equal(0, first.Exit);
        Assert.Equal(
        [
            "read: 6", "stored: 5", "duplicates: 0", "rejected: 1", "rejected node_id: 1",
            "repeated autumn hour, read as summer time (+02:00): 2", "repeated autumn hour, read as winter time (+01:00): 1",
            "skipped spring hour, read as winter time (+01:00): 1",
        ], first.Output);
        Assert.Contains("row 6", first.Error); // where the rejected row is
        Assert.Equal(0, second.Exit);
        Assert.Equal(["read: 6", "stored: 0", "duplicates: 5", "rejected: 1"], second.Output[..4]);
        using var store = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, _temp.Path));
        Assert.Equal(
            [At(3, 31, 2, 15, 1), At(10, 27, 2, 30, 2), At(10, 27, 2, 50, 2), At(10, 27, 2, 10, 1), At(10, 27, 3, 10, 1)],
            (await store.HistoryAsync("Elektra-Dach", 10)).Select(r => r.Measurement.Timestamp).Order());
    }

    [Fact]
    public async Task Imports_into_postgresql_named_by_database_url()
    {
        var url = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync();

        var run = await RunAsync(Original(), $"--DATABASE_URL={url}");

        Assert.Equal(0, run.Exit);
        Assert.Contains("stored: 5", run.Output);
        using var store = new MeasurementStore(DatabaseTarget.Parse(url, _temp.Path));
        Assert.Equal(At(10, 27, 3, 10, 1), (await store.HistoryAsync("Elektra-Dach", 1))[0].Measurement.Timestamp);
    }

    [Fact]
    public async Task Runs_beside_another_process_writing_to_the_same_sqlite_file()
    {
        var path = _temp.File("big-original.db");
        using (var db = new OriginalCollectorDatabase(path))
        {
            db.Execute("BEGIN");
            for (var i = 0; i < 20_000; i++)
                db.Insert($"legacy-{i % 10}", new DateTime(2019, 1, 1).AddMinutes(i / 10).ToString("yyyy-MM-dd HH:mm:ss.ffffff"));
            db.Execute("COMMIT");
        }
        // The running collector: a store of its own on the same file, writing batches all the time the import runs. Its
        // writer has a connection of its own, so SQLite's file locks (and busy timeouts) settle who writes, as between
        // two processes.
        using var service = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, _temp.Path));
        service.Migrate();
        using var importDone = new CancellationTokenSource();
        var serviceWrites = Task.Run(async () =>
        {
            var batches = 0;
            for (var t = 1_537_249_962L; !importDone.IsCancellationRequested || batches == 0; t += 60, batches++)
                await service.WriteAsync([Enumerable.Range(0, 50).Select(n => Live($"live-{n}", t)).ToArray()]);
            return batches;
        });

        var run = await RunAsync(path, $"--DATABASE_URL={DatabaseUrl}");
        importDone.Cancel();
        var batches = await serviceWrites;

        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Error}\n{run.Output}"); // what the import said, if it failed
        Assert.Equal("", run.Error);
        Assert.Contains("stored: 20000", run.Output);
        Assert.Equal(20_000 + batches * 50L, await service.CountAsync());
    }

    [Fact]
    public async Task A_missing_file_a_file_of_another_kind_or_no_file_exit_2_saying_why()
    {
        var missing = await RunAsync(_temp.File("nope.db"), $"--DATABASE_URL={DatabaseUrl}");
        var none = await RunAsync($"--DATABASE_URL={DatabaseUrl}");
        File.WriteAllText(_temp.File("log.txt"), "Elektra-Dach;1;1537249962;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;902\n");
        var text = await RunAsync(_temp.File("log.txt"), $"--DATABASE_URL={DatabaseUrl}");
        using (var store = new MeasurementStore(DatabaseTarget.Sqlite(_temp.File("new.db")))) store.Migrate();
        var ours = await RunAsync(_temp.File("new.db"), $"--DATABASE_URL={DatabaseUrl}");
        var badUrl = await RunAsync(Original(), "--DATABASE_URL=mysql://x@y/z");

        Assert.Equal((2, "does not exist"), (missing.Exit, Pick(missing.Error, "does not exist")));
        Assert.Equal((2, "Usage: Isems.Server import-legacy"), (none.Exit, Pick(none.Error, "Usage: Isems.Server import-legacy")));
        Assert.Equal((2, "cannot be read as a SQLite database"), (text.Exit, Pick(text.Error, "cannot be read as a SQLite database")));
        Assert.Equal((2, "no table 'measurement'"), (ours.Exit, Pick(ours.Error, "no table 'measurement'")));
        Assert.Equal((2, "DATABASE_URL"), (badUrl.Exit, Pick(badUrl.Error, "DATABASE_URL")));
        Assert.All([missing, none, text, ours, badUrl], r => Assert.Empty(r.Output));
        Assert.False(File.Exists(_temp.File("isems.db"))); // nothing was created for a refused import
    }

    private static Measurement Live(string node, long timestamp) =>
        new(node, "1", timestamp, "ESP_2.0", 0, 0, 18.6, 18.6, 12.5, 100, 100, 20, 11.7, 14.1, 7, 20, 0, 0, 0x902);

    private static string Pick(string text, string expected) => text.Contains(expected, StringComparison.Ordinal) ? expected : text;

    public void Dispose() => _temp.Dispose();
}
