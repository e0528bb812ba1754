using System.Data.Common;
using Isems.LineFormat;
using Isems.Testing;
using static Isems.Storage.Tests.Lines;

namespace Isems.Storage.Tests;

public sealed class SqliteHistoryStoreTests : HistoryStoreTests
{
    private readonly TempDirectory _temp = new();

    protected override Task<string> NewDatabaseUrlAsync() =>
        Task.FromResult($"sqlite:///{_temp.File($"history-{Guid.NewGuid():N}.db")}");

    protected override DbConnection OpenRaw(MeasurementStore store)
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection(store.Target.ConnectionString + ";Pooling=False");
        connection.Open();
        return connection;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _temp.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresHistoryStoreTests : HistoryStoreTests
{
    private PostgresServer? _server;

    protected override async Task<string> NewDatabaseUrlAsync()
    {
        _server ??= await PostgresServer.SharedAsync();
        return await _server.CreateDatabaseAsync();
    }

    protected override DbConnection OpenRaw(MeasurementStore store)
    {
        var connection = new Npgsql.NpgsqlConnection(store.Target.ConnectionString + ";Pooling=false");
        connection.Open();
        return connection;
    }
}

/// <summary>
/// History, rollups and exports (SPEC §6) against values computed here from the raw lines written, on SQLite and on
/// PostgreSQL alike.
/// </summary>
public abstract class HistoryStoreTests : IAsyncLifetime
{
    private readonly List<MeasurementStore> _stores = [];

    protected abstract Task<string> NewDatabaseUrlAsync();

    protected abstract DbConnection OpenRaw(MeasurementStore store);

    private async Task<MeasurementStore> NewStoreAsync() => Open(await NewDatabaseUrlAsync());

    private MeasurementStore Open(string url, bool maintainRollups = true)
    {
        var store = new MeasurementStore(DatabaseTarget.Parse(url, Path.GetTempPath()), maintainRollups);
        _stores.Add(store);
        store.Migrate();
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        foreach (var store in _stores) store.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Three and a half days of a node logging at irregular times, values and status bits varying, some lines without status.</summary>
    private static List<Measurement> Irregular(string node, long start, int count, int seed, int minGap = 20, int maxGap = 600)
    {
        var random = new Random(seed);
        var lines = new List<Measurement>(count);
        var t = start;
        for (var i = 0; i < count; i++)
        {
            t += random.Next(minGap, maxGap);
            int? status = random.Next(10) == 0 ? null : random.Next(10) == 0 ? 0x080 | 0x902 : (random.Next(2) == 0 ? 0x902 : 0x300);
            lines.Add(new Measurement(node, "1", t, "ATmega8_A_1", random.Next(0, 900), random.Next(0, 3),
                Math.Round(17 + random.NextDouble() * 3, 3), Math.Round(13 + random.NextDouble(), 3), Math.Round(11.5 + random.NextDouble() * 1.5, 3),
                random.Next(0, 101), random.Next(80, 101), random.Next(-5, 40), 11.67, Math.Round(14 + random.NextDouble() * 0.3, 3), 7, 20,
                52.507309, 13.458635, status));
        }
        return lines;
    }

    /// <summary>Writes the lines in overlapping batches (each repeats part of the one before, and one line twice), as polls and pushes do.</summary>
    private static async Task WriteOverlappingAsync(MeasurementStore store, IReadOnlyList<Measurement> lines)
    {
        var at = 0;
        var random = new Random(7);
        while (at < lines.Count)
        {
            var length = random.Next(1, 200);
            var from = Math.Max(0, at - random.Next(0, 40));
            var batch = lines.Skip(from).Take(at + length - from).ToList();
            if (batch.Count > 3) batch.Insert(batch.Count / 2, batch[1]);
            await store.WriteAsync([batch]);
            at += length;
        }
    }

    /// <summary>What the answer must be, computed from the raw lines.</summary>
    private static List<(long Start, long Count, int Status, double[] Avg, double[] Min, double[] Max)> Expected(
        IEnumerable<Measurement> lines, long from, long to, long bucket) =>
        lines.Where(m => m.Timestamp >= from && m.Timestamp < to)
            .GroupBy(m => Rollups.AlignDown(m.Timestamp, bucket))
            .OrderBy(g => g.Key)
            .Select(g => (g.Key, (long)g.Count(), g.Aggregate(0, (s, m) => s | (m.Status ?? 0)),
                Enumerable.Range(0, Rollups.KeyCount).Select(k => g.Average(m => Value(m, k))).ToArray(),
                Enumerable.Range(0, Rollups.KeyCount).Select(k => g.Min(m => Value(m, k))).ToArray(),
                Enumerable.Range(0, Rollups.KeyCount).Select(k => g.Max(m => Value(m, k))).ToArray()))
            .ToList();

    private static double Value(Measurement m, int key) => key switch
    {
        0 => m.TimeToShutdown,
        1 => m.OpenCircuitVoltage,
        2 => m.MppVoltage,
        3 => m.BatteryVoltage,
        4 => m.BatteryChargeEstimate,
        5 => m.BatteryHealthEstimate,
        6 => m.BatteryTemperature,
        7 => m.LowVoltageDisconnectVoltage,
        _ => m.TemperatureCorrectedVoltage,
    };

    private static void AssertSame(IEnumerable<Measurement> lines, long from, long to, long bucket, AggregatedHistory actual)
    {
        var expected = Expected(lines, from, to, bucket);
        Assert.Equal(expected.Select(e => (e.Start, e.Count, e.Status)), actual.Points.Select(p => (p.Start, p.Aggregate.Count, p.Aggregate.Status)));
        for (var i = 0; i < expected.Count; i++)
        for (var k = 0; k < Rollups.KeyCount; k++)
        {
            var a = actual.Points[i].Aggregate;
            // Sums added in another order may differ in the last bits; min and max are the very values.
            Assert.Equal(expected[i].Avg[k], a.Sum[k] / a.Count, 9);
            Assert.Equal(expected[i].Min[k], a.Min[k]);
            Assert.Equal(expected[i].Max[k], a.Max[k]);
        }
    }

    private static readonly long[] Buckets = [60, 300, 3_600, 7_200, 86_400, 7 * 86_400, 5_400];

    [Fact]
    public async Task Aggregates_equal_those_computed_from_the_raw_rows_for_every_bucket_aligned_or_not()
    {
        var store = await NewStoreAsync();
        var lines = Irregular("node-a", T0, 1_000, seed: 1);
        var other = Irregular("node-b", T0, 300, seed: 2);
        await WriteOverlappingAsync(store, lines);
        await store.WriteAsync([other]);

        var first = lines[0].Timestamp;
        var last = lines[^1].Timestamp;
        (long From, long To)[] ranges =
        [
            (first, last + 1),                                                        // every row: to is exclusive
            (Rollups.AlignDown(first, 86_400), Rollups.AlignUp(last + 1, 86_400)),    // whole days
            (first + 1_234, last - 4_321),                                            // ragged at both ends
            (lines[100].Timestamp, lines[200].Timestamp),                             // from inclusive, to exclusive, exactly on rows
        ];
        foreach (var (from, to) in ranges)
        foreach (var bucket in Buckets)
            AssertSame(lines, from, to, bucket, await store.AggregateAsync("node-a", from, to, bucket));

        var rows = await store.RangeAsync("node-a", lines[100].Timestamp, lines[200].Timestamp, 1_000);
        Assert.Equal(lines.Skip(100).Take(100).Select(l => l.Timestamp), rows.Select(r => r.Measurement.Timestamp));
        Assert.Equal(lines[100], rows[0].Measurement);
        Assert.Empty((await store.AggregateAsync("nobody", first, last, 3_600)).Points);
    }

    [Fact]
    public async Task A_long_range_at_1h_read_in_two_halves_equals_the_raw_rows()
    {
        // About 125 days a line an hour or so: more hourly buckets than MeasurementStore.ParallelBuckets, from which
        // SQLite reads the range in two halves at once.
        var store = await NewStoreAsync();
        var lines = Irregular("node-a", T0, 3_000, seed: 3, minGap: 1_800, maxGap: 5_400);
        await store.WriteAsync([lines]);
        var first = lines[0].Timestamp;
        var last = lines[^1].Timestamp;
        Assert.True((last - first) / 3_600 > MeasurementStore.ParallelBuckets);
        foreach (var (from, to) in new[] { (first, last + 1), (first + 1_234, last - 4_321) })
        {
            var history = await store.AggregateAsync("node-a", from, to, 3_600);
            Assert.True(history.Buckets.Count > 1_500, $"{history.Buckets.Count} buckets");
            AssertSame(lines, from, to, 3_600, history);
        }
    }

    [Fact]
    public async Task The_rollups_equal_a_group_by_over_the_raw_rows()
    {
        var store = await NewStoreAsync();
        var lines = Irregular("node-a", T0, 800, seed: 3);
        await WriteOverlappingAsync(store, lines);

        foreach (var period in new[] { Rollups.Hour, Rollups.Day })
        {
            using var connection = OpenRaw(store);
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT start, count, status, sum_battery_voltage, min_battery_voltage, max_battery_voltage FROM measurement_rollups " +
                                  $"WHERE node_id = 'node-a' AND period = {period} ORDER BY start";
            using var reader = command.ExecuteReader();
            var stored = new List<(long, long, int, double, double)>();
            while (reader.Read()) stored.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetDouble(4), reader.GetDouble(5)));
            var expected = Expected(lines, 0, long.MaxValue, period);
            Assert.Equal(expected.Select(e => (e.Start, e.Count, e.Status, e.Min[3], e.Max[3])), stored);
        }
    }

    [Fact]
    public async Task The_migration_builds_the_rollups_of_rows_stored_before_it()
    {
        var url = await NewDatabaseUrlAsync();
        var lines = Irregular("node-a", T0, 600, seed: 4);
        var before = Open(url, maintainRollups: false);
        await WriteOverlappingAsync(before, lines);
        using (var connection = OpenRaw(before))
        using (var command = connection.CreateCommand())
        {
            // As a database of the version before the rollups: no step 5, nor the steps after it (alerts, step 6).
            command.CommandText = "DROP TABLE measurement_rollups; DROP TABLE raw_horizons; DROP TABLE alerts; DELETE FROM schema_version WHERE version >= 5";
            command.ExecuteNonQuery();
        }

        var store = Open(url);

        foreach (var bucket in new long[] { 3_600, 86_400 })
        {
            var from = Rollups.AlignDown(lines[0].Timestamp, 86_400);
            var to = Rollups.AlignUp(lines[^1].Timestamp + 1, 86_400);
            AssertSame(lines, from, to, bucket, await store.AggregateAsync("node-a", from, to, bucket));
        }
        Assert.Equal(Expected(lines, 0, long.MaxValue, 3_600).Count, await store.RollupCountAsync("node-a", Rollups.Hour));
    }

    [Fact]
    public async Task The_migration_builds_every_rollup_row_the_group_by_over_the_raw_rows_built()
    {
        var url = await NewDatabaseUrlAsync();
        // Several nodes, written interleaved in time as polls write them: one over days with lines without status, one
        // with the highest status bits (27 and 0..27, the 7 hex digits a status may have) and values with long
        // fractions, one with a single line, one whose id is not ASCII; rows on both sides of a day boundary.
        var random = new Random(11);
        var a = Irregular("node-a", T0, 900, seed: 8);
        var b = Irregular("node-b", T0 + 5_000, 400, seed: 9)
            .Select(m => m with { Status = random.Next(3) switch { 0 => 0x0FFF_FFFF, 1 => 0x0800_0000, _ => null },
                BatteryVoltage = 11 + random.NextDouble() * 2, MppVoltage = -random.NextDouble() * 1e-3 })
            .ToList();
        var midnight = Rollups.AlignUp(T0, Rollups.Day);
        var c = new List<Measurement> { Irregular("node-c", midnight - 2, 1, seed: 10)[0] with { Timestamp = midnight - 1 } };
        var d = Irregular("nöde-ü", midnight - 3_000, 50, seed: 12);
        var before = Open(url, maintainRollups: false);
        for (var i = 0; i < 900; i += 100)
            await before.WriteAsync([a.Skip(i).Take(100).ToList(), b.Skip(i / 2).Take(50).ToList(), i == 0 ? c : [], d.Skip(i / 10).Take(10).ToList()]);
        using (var connection = OpenRaw(before))
        using (var command = connection.CreateCommand())
        {
            // As a database of the version before the rollups: no step 5, nor the steps after it (alerts, step 6).
            command.CommandText = "DROP TABLE measurement_rollups; DROP TABLE raw_horizons; DROP TABLE alerts; DELETE FROM schema_version WHERE version >= 5";
            command.ExecuteNonQuery();
        }
        // What the step built before it streamed (it still does on PostgreSQL): one GROUP BY per period over the raw rows.
        var kind = before.Target.Kind;
        var expected = new List<object[]>();
        using (var connection = OpenRaw(before))
            foreach (var period in new[] { Rollups.Hour, Rollups.Day })
                expected.AddRange(Rows(connection,
                    $"SELECT node_id, {period}, timestamp / {period} * {period} AS start, {Rollups.Aggregates(kind)} FROM measurements " +
                    $"GROUP BY node_id, timestamp / {period} * {period}"));

        var store = Open(url);

        List<object[]> built;
        using (var connection = OpenRaw(store))
            built = Rows(connection, $"SELECT node_id, period, start, {Rollups.AggregateColumns} FROM measurement_rollups");
        Assert.Equal(a.Concat(b).Concat(c).Concat(d).Select(m => (m.NodeId, Rollups.AlignDown(m.Timestamp, Rollups.Hour))).Distinct().Count()
            + a.Concat(b).Concat(c).Concat(d).Select(m => (m.NodeId, Rollups.AlignDown(m.Timestamp, Rollups.Day))).Distinct().Count(), built.Count);
        Assert.Equal(expected.Count, built.Count);
        expected = [.. expected.OrderBy(r => (string)r[0], StringComparer.Ordinal).ThenBy(r => (long)r[1]).ThenBy(r => (long)r[2])];
        built = [.. built.OrderBy(r => (string)r[0], StringComparer.Ordinal).ThenBy(r => (long)r[1]).ThenBy(r => (long)r[2])];
        for (var i = 0; i < built.Count; i++)
            Assert.Equal(expected[i], built[i]);
        // And against the lines themselves: count, status OR, min and max of every key (the sums to rounding).
        foreach (var (node, lines) in new[] { ("node-a", a), ("node-b", b), ("node-c", c), ("nöde-ü", d) })
            foreach (var period in new[] { Rollups.Hour, Rollups.Day })
            {
                var mine = built.Where(r => (string)r[0] == node && (long)r[1] == period).ToList();
                var computed = Expected(lines, long.MinValue, long.MaxValue, period);
                Assert.Equal(computed.Select(e => (e.Start, e.Count, (long)e.Status)), mine.Select(r => ((long)r[2], (long)r[3], (long)r[4])));
                for (var j = 0; j < mine.Count; j++)
                    for (var k = 0; k < Rollups.KeyCount; k++)
                    {
                        Assert.Equal(computed[j].Avg[k] * computed[j].Count, (double)mine[j][5 + 3 * k], 1e-9 * Math.Max(1, Math.Abs(computed[j].Avg[k] * computed[j].Count)));
                        Assert.Equal(computed[j].Min[k], (double)mine[j][6 + 3 * k]);
                        Assert.Equal(computed[j].Max[k], (double)mine[j][7 + 3 * k]);
                    }
            }
        Assert.Contains(built, r => (string)r[0] == "node-b" && (long)r[4] == 0x0FFF_FFFF);
    }

    /// <summary>Every row of the query, integers as long and reals as double.</summary>
    private static List<object[]> Rows(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object[]>();
        while (reader.Read())
        {
            var row = new object[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
                row[i] = i == 0 ? reader.GetString(0)
                    : i <= 4 ? (object)Convert.ToInt64(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)
                    : reader.GetDouble(i);
            rows.Add(row);
        }
        return rows;
    }

    [Fact]
    public async Task Retention_deletes_raw_rows_and_keeps_the_rollups_which_then_answer()
    {
        var store = await NewStoreAsync();
        var lines = Irregular("node-a", T0, 1_000, seed: 5);
        await store.WriteAsync([lines]);
        var cutoff = lines[500].Timestamp;
        while (await store.DeleteOlderThanAsync(cutoff, 100) > 0) { }

        Assert.Equal(500, await store.CountAsync());
        var keptFrom = await store.RawKeptFromAsync("node-a");
        Assert.Equal(Rollups.AlignUp(cutoff, 3_600), keptFrom);
        var from = Rollups.AlignDown(lines[0].Timestamp, 86_400);
        var to = Rollups.AlignUp(lines[^1].Timestamp + 1, 86_400);

        // Hourly and daily answers are as exact as before the raw rows went.
        foreach (var bucket in new long[] { 3_600, 86_400 })
        {
            var answer = await store.AggregateAsync("node-a", from, to, bucket);
            AssertSame(lines, from, to, bucket, answer);
        }

        // A 5-minute answer: before the horizon whole hours from the rollups (said so), after it 5-minute buckets.
        var fine = await store.AggregateAsync("node-a", from, to, 300);
        Assert.Equal(keptFrom, fine.RawDeletedBefore);
        var hourly = Expected(lines, from, keptFrom!.Value, 3_600);
        var after = Expected(lines, keptFrom.Value, to, 300);
        Assert.Equal(hourly.Select(e => (e.Start, e.Count)).Concat(after.Select(e => (e.Start, e.Count))),
            fine.Points.Select(p => (p.Start, p.Aggregate.Count)));
        Assert.Equal(lines.Count, fine.Points.Sum(p => p.Aggregate.Count));

        // Rollups go only when asked to.
        var dayOfCutoff = Rollups.AlignDown(cutoff, 86_400);
        while (await store.DeleteRollupsOlderThanAsync(dayOfCutoff, 50) > 0) { }
        var rest = await store.AggregateAsync("node-a", from, to, 86_400);
        Assert.Equal(Expected(lines, dayOfCutoff, to, 86_400).Select(e => e.Start), rest.Points.Select(p => p.Start));
    }

    [Fact]
    public async Task Trimming_per_node_and_purging_keep_the_rollups_exact()
    {
        var store = await NewStoreAsync();
        var a = Irregular("node-a", T0, 400, seed: 6);
        var b = Irregular("node-b", T0, 400, seed: 8);
        await store.WriteAsync([a, b]);
        while (await store.TrimPerNodeAsync(150, 64) > 0) { }
        var from = Rollups.AlignDown(T0, 86_400);
        var to = Rollups.AlignUp(a[^1].Timestamp + 86_400, 86_400);
        AssertSame(a, from, to, 3_600, await store.AggregateAsync("node-a", from, to, 3_600));

        await store.DeleteNodeAsync("node-b");
        Assert.Empty((await store.AggregateAsync("node-b", from, to, 3_600)).Points);
        Assert.Equal(0, await store.RollupCountAsync("node-b", Rollups.Day));
        Assert.Null(await store.RawKeptFromAsync("node-b"));

        // Stored again after the purge, the node starts over.
        await store.WriteAsync([b.Take(10).ToList()]);
        AssertSame(b.Take(10), from, to, 3_600, await store.AggregateAsync("node-b", from, to, 3_600));
    }

    [Fact]
    public async Task Export_reads_every_node_in_order_within_the_range()
    {
        var store = await NewStoreAsync();
        var b = Irregular("node-b", T0, 50, seed: 9);
        var a = Irregular("node-a", T0, 50, seed: 10);
        var c = Irregular("Node-C", T0, 50, seed: 11); // ordinal: upper case first
        await store.WriteAsync([b, a, c]);
        var from = a[10].Timestamp;
        var to = a[40].Timestamp;

        var all = new List<StoredMeasurement>();
        await foreach (var row in store.ExportAsync(null, from, to)) all.Add(row);
        var expected = new[] { c, a, b }.SelectMany(lines => lines.Where(m => m.Timestamp >= from && m.Timestamp < to)).ToList();
        Assert.Equal(expected, all.Select(r => r.Measurement));

        var one = new List<StoredMeasurement>();
        await foreach (var row in store.ExportAsync("node-a", from, to)) one.Add(row);
        Assert.Equal(a.Skip(10).Take(30), one.Select(r => r.Measurement));
    }
}
