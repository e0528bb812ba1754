using System.Data.Common;
using Isems.LineFormat;
using Isems.Testing;
using static Isems.Storage.Tests.Lines;

namespace Isems.Storage.Tests;

public sealed class SqliteMeasurementStoreTests : MeasurementStoreTests
{
    private readonly TempDirectory _temp = new();

    protected override Task<string> NewDatabaseUrlAsync() =>
        Task.FromResult($"sqlite:///{_temp.File($"isems-{Guid.NewGuid():N}.db")}");

    protected override DbConnection OpenRaw(MeasurementStore store)
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection(store.Target.ConnectionString + ";Pooling=False");
        connection.Open();
        return connection;
    }

    protected override string TableListSql => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Reads_do_not_wait_for_a_writer_holding_the_write_lock()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([[Make("node-a", T0)]]);

        using var writer = OpenRaw(store);
        using var transaction = writer.BeginTransaction(); // BEGIN IMMEDIATE: the write lock, held until rollback
        using (var insert = writer.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO measurements (node_id, isems_revision, timestamp, firmware_version, time_to_shutdown, " +
                "power_save_level, open_circuit_voltage, mpp_voltage, battery_voltage, battery_charge_estimate, battery_health_estimate, " +
                "battery_temperature, low_voltage_disconnect_voltage, temperature_corrected_voltage, rate_battery_capacity, " +
                "rated_solar_module_capacity, latitude, longitude, status) VALUES ('node-b', '1', 1537250000, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL)";
            insert.ExecuteNonQuery();
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var latest = await store.LatestPerNodeAsync();
        var history = await store.HistoryAsync("node-a", 10);
        var count = await store.CountAsync();
        watch.Stop();

        Assert.Equal(["node-a"], latest.Select(l => l.Measurement.NodeId));
        Assert.Single(history);
        Assert.Equal(1, count); // the uncommitted row is not seen
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"reads took {watch.Elapsed} while a writer held the lock");
        transaction.Rollback();
    }

    [Fact]
    public async Task Uses_write_ahead_logging()
    {
        var store = await NewStoreAsync();
        using var connection = OpenRaw(store);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)command.ExecuteScalar());
    }

    [Fact]
    public async Task Default_database_url_makes_data_isems_db_under_the_working_directory()
    {
        var target = DatabaseTarget.Parse(null, _temp.Path);
        using var store = new MeasurementStore(target);
        store.Migrate();
        await store.WriteAsync([[Make("node-a", T0)]]);
        Assert.True(File.Exists(Path.Combine(_temp.Path, "data", "isems.db")));
        Assert.Equal(1, await store.CountAsync());
    }

    [Fact]
    public async Task Measures_write_throughput()
    {
        // One quick figure, printed with the test output; it also writes a large batch sequence end to end.
        var store = await NewStoreAsync();
        const int total = 100_000, batch = 5_000;
        var lines = Enumerable.Range(0, total).Select(i => Make($"node-{i % 50:D2}", T0 + i / 50 * 60, 12 + i % 7 * 0.01)).ToArray();
        var batches = lines.Chunk(batch).Select(chunk => (IReadOnlyList<IReadOnlyList<Measurement>>)chunk.GroupBy(m => m.NodeId)
            .Select(g => (IReadOnlyList<Measurement>)g.ToArray()).ToArray()).ToArray();

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var stored = 0;
        foreach (var b in batches) stored += (await store.WriteAsync(b)).Sum(o => o.Stored);
        var insertSeconds = watch.Elapsed.TotalSeconds;
        var insertBytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        allocated = GC.GetAllocatedBytesForCurrentThread();
        watch.Restart();
        var duplicates = 0;
        foreach (var b in batches) duplicates += (await store.WriteAsync(b)).Sum(o => o.Duplicates);
        var duplicateSeconds = watch.Elapsed.TotalSeconds;
        var duplicateBytes = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(total, stored);
        Assert.Equal(total, duplicates);
        Assert.Equal(total, await store.CountAsync());
        Console.WriteLine($"SQLite WriteAsync, {total} lines in batches of {batch}: new {total / insertSeconds:N0} rows/s, " +
            $"all duplicates {total / duplicateSeconds:N0} rows/s; allocated per row (this thread): new {insertBytes / total} B, " +
            $"duplicate {duplicateBytes / total} B");
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresMeasurementStoreTests : MeasurementStoreTests
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

    protected override string TableListSql =>
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name";

    // These stop the process's shared server: every test class of this project that uses PostgreSQL is in the same
    // collection, so none runs meanwhile.
    [Fact]
    public async Task After_a_server_restart_the_first_read_and_the_first_write_succeed()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([[Make("node-a", T0)]]);
        Assert.Single(await store.LatestPerNodeAsync()); // pooled connections that the restart will break

        await _server!.StopAsync();
        await _server.StartAsync();
        Assert.Equal(1, await store.CountAsync());

        await store.WriteAsync([[Make("node-a", T0 + 60)]]);
        await _server.StopAsync();
        await _server.StartAsync();
        Assert.Equal(1, (await store.WriteAsync([[Make("node-a", T0 + 120)]]))[0].Stored);
        Assert.Equal(3, await store.CountAsync());
    }

    [Fact]
    public async Task During_an_outage_writes_and_reads_fail_and_afterwards_they_work()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([[Make("node-a", T0)]]);

        await _server!.StopAsync();
        try
        {
            await Assert.ThrowsAnyAsync<Npgsql.NpgsqlException>(() => store.WriteAsync([[Make("node-a", T0 + 60)]]));
            await Assert.ThrowsAnyAsync<Npgsql.NpgsqlException>(() => store.CountAsync());
        }
        finally
        {
            await _server.StartAsync();
        }

        Assert.Equal(1, (await store.WriteAsync([[Make("node-a", T0 + 60)]]))[0].Stored);
        Assert.Equal(T0 + 60, Assert.Single(await store.LatestPerNodeAsync()).Measurement.Timestamp);
        Assert.StartsWith("postgresql://", await _server.CreateDatabaseAsync());
    }
}

/// <summary>Every behaviour of the store, run once on SQLite and once on PostgreSQL (the two classes above).</summary>
public abstract class MeasurementStoreTests : IAsyncLifetime
{
    private readonly List<MeasurementStore> _stores = [];

    protected abstract Task<string> NewDatabaseUrlAsync();

    /// <summary>A connection of the test's own to the store's database, for looking behind the store's back.</summary>
    protected abstract DbConnection OpenRaw(MeasurementStore store);

    protected abstract string TableListSql { get; }

    /// <summary>A migrated store on a fresh database.</summary>
    protected async Task<MeasurementStore> NewStoreAsync(bool migrate = true) => Open(await NewDatabaseUrlAsync(), migrate);

    protected MeasurementStore Open(string url, bool migrate = true)
    {
        var store = new MeasurementStore(DatabaseTarget.Parse(url, Path.GetTempPath()));
        _stores.Add(store);
        if (migrate) store.Migrate();
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        foreach (var store in _stores) store.Dispose();
        return Task.CompletedTask;
    }

    protected List<object?[]> Query(MeasurementStore store, string sql)
    {
        using var connection = OpenRaw(store);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private void Execute(MeasurementStore store, string sql)
    {
        using var connection = OpenRaw(store);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [Fact]
    public async Task Migrate_twice_is_a_no_op()
    {
        var url = await NewDatabaseUrlAsync();
        var store = Open(url);
        await store.WriteAsync([Sample("router-ffopenmppt.log")]);
        store.Migrate();
        Open(url).Migrate();

        Assert.Equal(7, await store.CountAsync());
        var versions = Query(store, "SELECT version FROM schema_version ORDER BY version");
        Assert.Equal([1L, 2L, 3L, 4L, 5L], versions.Select(v => Convert.ToInt64(v[0])));
        Assert.Equal(["log_bookmarks", "measurement_rollups", "measurements", "raw_horizons", "schema_version"], Query(store, TableListSql).Select(r => (string)r[0]!));
    }

    [Fact]
    public async Task Two_processes_may_migrate_at_the_same_time()
    {
        var url = await NewDatabaseUrlAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => Open(url, migrate: false)).ToArray();
        await Task.WhenAll(stores.Select(s => Task.Run(s.Migrate)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], Query(stores[0], "SELECT version FROM schema_version ORDER BY version").Select(v => Convert.ToInt64(v[0])));
        Assert.Equal(0, await stores[0].CountAsync());
    }

    [Fact]
    public async Task Writing_the_same_lines_again_counts_duplicates_and_stores_nothing_twice()
    {
        var store = await NewStoreAsync();
        var lines = Sample("router-ffopenmppt.log");

        var first = Assert.Single(await store.WriteAsync([lines]));
        var again = Assert.Single(await store.WriteAsync([lines]));

        Assert.Equal((7, 0), (first.Stored, first.Duplicates));
        Assert.Equal((0, 7), (again.Stored, again.Duplicates));
        Assert.Equal(7, await store.CountAsync());
        Assert.Equal(first.Newest, again.Newest);
    }

    [Fact]
    public async Task Duplicates_within_one_batch_count_once_as_stored_the_first_occurrence()
    {
        var store = await NewStoreAsync();
        var a = Make("node-a", T0, battery: 12.1);
        var aAgain = Make("node-a", T0, battery: 99); // same key, other values: the first one wins
        var b = Make("node-a", T0 + 60);

        var outcomes = await store.WriteAsync([[a, aAgain, b, a], [b, Make("node-a", T0 + 120)], [a]]);

        Assert.Equal((2, 2), (outcomes[0].Stored, outcomes[0].Duplicates));
        Assert.Equal((1, 1), (outcomes[1].Stored, outcomes[1].Duplicates));
        Assert.Equal((0, 1), (outcomes[2].Stored, outcomes[2].Duplicates));
        Assert.Equal(4 - 1, await store.CountAsync());
        var stored = (await store.HistoryAsync("node-a", 10)).Single(s => s.Measurement.Timestamp == T0);
        Assert.Equal(a, stored.Measurement);
        Assert.Equal(a, Assert.Single(outcomes[2].Newest).Measurement);
        Assert.Equal(stored.Id, outcomes[2].Newest[0].Id);
    }

    [Fact]
    public async Task Several_groups_in_one_batch_get_their_own_outcomes_in_order()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([[Make("router", T0), Make("router", T0 + 60)]]);

        var outcomes = await store.WriteAsync(
        [
            [Make("router", T0), Make("router", T0 + 60), Make("router", T0 + 120)], // a poll: two old, one new
            [],
            [Make("esp-1", T0 + 15), Make("esp-1", T0 + 30)],                         // an MQTT message
            [Make("esp-2", T0 + 15), Make("esp-1", T0 + 30), Make("esp-1", T0 + 45)],  // mixed nodes
        ]);

        Assert.Equal(4, outcomes.Count);
        Assert.Equal((1, 2), (outcomes[0].Stored, outcomes[0].Duplicates));
        Assert.Equal((0, 0), (outcomes[1].Stored, outcomes[1].Duplicates));
        Assert.Empty(outcomes[1].Newest);
        Assert.Equal((2, 0), (outcomes[2].Stored, outcomes[2].Duplicates));
        Assert.Equal((2, 1), (outcomes[3].Stored, outcomes[3].Duplicates));
        Assert.Equal(2 + 1 + 2 + 2, await store.CountAsync());
        Assert.Equal(["router"], outcomes[0].Newest.Select(n => n.Measurement.NodeId));
        Assert.Equal(["esp-2", "esp-1"], outcomes[3].Newest.Select(n => n.Measurement.NodeId)); // order of first appearance
    }

    [Fact]
    public async Task Bookmarks_are_saved_with_their_lines_the_latest_per_node_key_and_a_purge_removes_its_own()
    {
        var store = await NewStoreAsync();
        var a1 = new LogBookmark("http://10.0.0.1/log", "http://10.0.0.1/log", 106, [1, 2, 3], [4, 5], 106, NodeId: "node-a");
        var a2 = a1 with { Offset = 212, PrefixHash = null, TailHash = [6, 7] };
        var b = new LogBookmark("router-b", "http://10.0.0.2/ISEMS/ffopenmppt.log", 5000, null, [8], 99);

        await store.WriteAsync([[Make("node-a", T0)]], [a1, b]);
        await store.WriteAsync([[Make("node-a", T0 + 60)], [Make("node-a", T0 + 120)]], [a2, a2 with { Offset = 318 }]);
        // No lines at all: the bookmark still goes in.
        await store.WriteAsync([], [b with { Offset = 5106 }]);

        var saved = (await store.BookmarksAsync()).OrderBy(x => x.NodeKey, StringComparer.Ordinal).ToList();
        Assert.Equal(2, saved.Count);
        Assert.Equal((a1.NodeKey, a1.LogUrl, 318L, 106), (saved[0].NodeKey, saved[0].LogUrl, saved[0].Offset, saved[0].TailLength));
        Assert.Null(saved[0].PrefixHash);
        Assert.Equal("node-a", saved[0].NodeId);
        Assert.Null(saved[1].NodeId);
        Assert.Equal([6, 7], saved[0].TailHash!);
        Assert.Equal(5106, saved[1].Offset);
        Assert.Equal([8], saved[1].TailHash!);

        Assert.Equal(3, await store.DeleteNodeAsync("node-a", "router-b"));
        Assert.Equal([a1.NodeKey], (await store.BookmarksAsync()).Select(x => x.NodeKey));
    }

    [Fact]
    public async Task A_batch_that_fails_saves_neither_its_lines_nor_its_bookmark()
    {
        var store = await NewStoreAsync();
        var bookmark = new LogBookmark("router", "http://10.0.0.1/log", 106, null, [1], 106);
        // A line the database refuses (a null where none may be) fails the batch: its bookmark, saved in the same
        // transaction, must go with it, or the log would be marked read past lines that are not stored.
        var bad = Make("node-a", T0) with { IsemsRevision = null! };

        await Assert.ThrowsAnyAsync<Exception>(() => store.WriteAsync([[Make("node-a", T0 + 60), bad]], [bookmark]));

        Assert.Equal(0, await store.CountAsync());
        Assert.Empty(await store.BookmarksAsync());
    }

    [Fact]
    public async Task Large_groups_store_each_key_once_first_occurrence_first_whatever_their_size()
    {
        var store = await NewStoreAsync();
        // Some keys stored before; then 3 interleaved nodes, 250 lines, a quarter of them repeats with other values,
        // and each node's newest line in the middle: the sizes that the writer splits into multi-row statements.
        var before = Enumerable.Range(0, 40).Select(i => Make($"node-{i % 3}", T0 + i * 60)).ToArray();
        await store.WriteAsync([before]);
        var group = new List<Measurement>();
        for (var i = 0; i < 250; i++)
        {
            var timestamp = i is >= 150 and < 153 ? T0 + 1_000_000  // each node's newest, in the middle
                : i % 4 == 3 ? group[i - 3].Timestamp                // the same node's key again, other values
                : T0 + i * 60;                                       // below 40 × 60 s: some already stored
            group.Add(Make($"node-{i % 3}", timestamp, battery: 10 + i / 100.0));
        }

        var outcome = Assert.Single(await store.WriteAsync([group]));

        var expected = new Dictionary<(string, long), Measurement>();
        foreach (var line in before.Concat(group)) expected.TryAdd((line.NodeId, line.Timestamp), line);
        Assert.Equal(expected.Count - before.Length, outcome.Stored);
        Assert.Equal(group.Count - outcome.Stored, outcome.Duplicates);
        foreach (var node in new[] { "node-0", "node-1", "node-2" })
        {
            var history = await store.HistoryAsync(node, 1000);
            Assert.Equal(
                expected.Values.Where(l => l.NodeId == node).OrderByDescending(l => l.Timestamp),
                history.Select(h => h.Measurement));
            Assert.Equal(history[0], outcome.Newest.Single(n => n.Measurement.NodeId == node));
            Assert.Equal(T0 + 1_000_000, history[0].Measurement.Timestamp);
        }
    }

    [Fact]
    public async Task Newest_per_node_carries_the_row_id_whether_stored_now_or_before()
    {
        var store = await NewStoreAsync();
        var before = await store.WriteAsync([[Make("node-a", T0 + 600), Make("node-b", T0)]]);
        var oldNewestA = before[0].Newest.Single(n => n.Measurement.NodeId == "node-a");

        // node-a's newest (T0+600) is already stored and comes in the middle; node-b's newest is new and comes first.
        var outcome = Assert.Single(await store.WriteAsync(
        [[
            Make("node-b", T0 + 120), Make("node-a", T0 + 60), Make("node-a", T0 + 600), Make("node-b", T0 + 60),
            Make("node-a", T0 + 300),
        ]]));

        Assert.Equal((4, 1), (outcome.Stored, outcome.Duplicates));
        var a = outcome.Newest.Single(n => n.Measurement.NodeId == "node-a");
        var b = outcome.Newest.Single(n => n.Measurement.NodeId == "node-b");
        Assert.Equal(oldNewestA, a);
        Assert.Equal(T0 + 120, b.Measurement.Timestamp);
        Assert.Equal((await store.HistoryAsync("node-a", 1))[0], a);
        Assert.Equal((await store.HistoryAsync("node-b", 1))[0], b);
        Assert.Equal(["node-b", "node-a"], outcome.Newest.Select(n => n.Measurement.NodeId));
    }

    [Fact]
    public async Task Latest_per_node_is_each_nodes_newest_row_ordered_by_node_id_ordinally()
    {
        var store = await NewStoreAsync();
        string[] nodes = ["b-node", "Z-node", "a-node", "B-node", "ä-node", "a-node-2"];
        await store.WriteAsync(nodes.Select((n, i) =>
            (IReadOnlyList<Measurement>)[Make(n, T0 + i), Make(n, T0 + 1000 + i, battery: 13), Make(n, T0 + 500)]).ToArray());
        await store.WriteAsync([[Make("a-node", T0 - 5000)]]); // older than its newest: changes nothing

        var latest = await store.LatestPerNodeAsync();

        Assert.Equal(nodes.Order(StringComparer.Ordinal), latest.Select(l => l.Measurement.NodeId));
        foreach (var row in latest)
        {
            Assert.Equal(13, row.Measurement.BatteryVoltage);
            Assert.Equal((await store.HistoryAsync(row.Measurement.NodeId, 1))[0], row);
        }
        Assert.Empty(await (await NewStoreAsync()).LatestPerNodeAsync());
    }

    [Fact]
    public async Task History_is_newest_first_with_a_limit()
    {
        var store = await NewStoreAsync();
        var lines = Enumerable.Range(0, 30).Select(i => Make("node-a", T0 + i * 60)).OrderBy(_ => Guid.NewGuid()).ToArray();
        await store.WriteAsync([lines, [Make("node-b", T0 + 99_999)]]);

        var ten = await store.HistoryAsync("node-a", 10);
        var all = await store.HistoryAsync("node-a", 1440);

        Assert.Equal(Enumerable.Range(20, 10).Reverse().Select(i => T0 + i * 60), ten.Select(r => r.Measurement.Timestamp));
        Assert.Equal(30, all.Count);
        Assert.Equal(all.Select(r => r.Measurement.Timestamp).OrderDescending(), all.Select(r => r.Measurement.Timestamp));
        Assert.Empty(await store.HistoryAsync("unknown", 10));
        Assert.Empty(await store.HistoryAsync("node-a", 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.HistoryAsync("node-a", -1));
    }

    [Fact]
    public async Task Delete_node_removes_its_rows_only()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([Sample("router-ffopenmppt.log"), Sample("esp-mqtt-csvlog.txt")]);

        Assert.Equal(7, await store.DeleteNodeAsync("Elektra-Dach"));
        Assert.Equal(0, await store.DeleteNodeAsync("Elektra-Dach"));
        Assert.Equal(0, await store.DeleteNodeAsync("unknown"));

        Assert.Equal(5, await store.CountAsync());
        Assert.Empty(await store.HistoryAsync("Elektra-Dach", 10));
        Assert.Equal(["FF-ESP-Hof"], (await store.LatestPerNodeAsync()).Select(l => l.Measurement.NodeId));
        // The node may come back: its lines are new again.
        Assert.Equal(7, (await store.WriteAsync([Sample("router-ffopenmppt.log")]))[0].Stored);
    }

    [Fact]
    public async Task Row_ids_stay_the_same_while_other_rows_come_and_go()
    {
        var store = await NewStoreAsync();
        await store.WriteAsync([Sample("router-ffopenmppt.log")]);
        var ids = (await store.HistoryAsync("Elektra-Dach", 100)).ToDictionary(r => r.Measurement.Timestamp, r => r.Id);
        Assert.Equal(7, ids.Values.Distinct().Count());

        await store.WriteAsync([Sample("esp-mqtt-csvlog.txt"), [Make("Elektra-Dach", T0 - 60), Make("Elektra-Dach", T0 + 99_999)]]);
        await store.DeleteNodeAsync("FF-ESP-Hof");
        await store.WriteAsync([Sample("router-ffopenmppt.log")]);
        store.Migrate();

        var now = (await store.HistoryAsync("Elektra-Dach", 100)).ToDictionary(r => r.Measurement.Timestamp, r => r.Id);
        Assert.Equal(9, now.Count);
        foreach (var (timestamp, id) in ids) Assert.Equal(id, now[timestamp]);
        Assert.Equal(9, now.Values.Distinct().Count());
    }

    [Fact]
    public async Task Every_field_round_trips_exactly()
    {
        var store = await NewStoreAsync();
        Measurement[] lines =
        [
            new("Ünïcode-ノード", "1", T0, "ESP_2.0", 718.5, 6, 0.1 + 0.2, 1.0 / 3, double.Epsilon, double.MaxValue, -1e-300,
                -40.25, 11900, 14.2, 12, 30, -33.868820, 151.209296, null),
            new("Elektra-Dach", "2", T0 + 1, "5", 0, 1, 18.614, 18.614, 14.073, 100, 100, 28, 11.67, 14.086, 7, 20,
                52.507309, 13.458635, 0x902),
            new("long-" + new string('x', 300) + "-ü", "1", T0 + 4, new string('y', 500), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
            new("zero", "1", T0 + 2, "ATmega8_A_1", -0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            new("big", "1", T0 + 3, "x", 9_007_199_254_740_993d, int.MaxValue, 1e308, 123456789.123456789, 2.5e-310, 1, 1, 1, 1, 1, 1, 1,
                89.999999999, -179.999999999, 0xFFF),
        ];
        var outcome = (await store.WriteAsync([lines]))[0];

        foreach (var line in lines)
        {
            var stored = Assert.Single(await store.HistoryAsync(line.NodeId, 5)).Measurement;
            Assert.Equal(line, stored);
            AssertSameBits(line, stored);
            Assert.Equal(line, outcome.Newest.Single(n => n.Measurement.NodeId == line.NodeId).Measurement);
        }
        Assert.Null((await store.LatestPerNodeAsync()).Single(l => l.Measurement.NodeId == "Ünïcode-ノード").Measurement.Status);
    }

    private static void AssertSameBits(Measurement expected, Measurement actual)
    {
        foreach (var property in typeof(Measurement).GetProperties().Where(p => p.PropertyType == typeof(double)))
            Assert.True(
                BitConverter.DoubleToInt64Bits((double)property.GetValue(expected)!) == BitConverter.DoubleToInt64Bits((double)property.GetValue(actual)!),
                $"{property.Name}: {property.GetValue(expected)} became {property.GetValue(actual)}");
    }

    [Fact]
    public async Task Queries_use_the_unique_index_instead_of_scanning_or_sorting()
    {
        var store = await NewStoreAsync();
        // Enough rows that a planner would rather scan and sort if it could not walk the index.
        for (var n = 0; n < 5; n++)
            await store.WriteAsync(Enumerable.Range(0, 10).Select(node => (IReadOnlyList<Measurement>)Enumerable.Range(0, 400)
                .Select(i => Make($"node-{n}-{node:D2}", T0 + i * 60)).ToArray()).ToArray());
        Execute(store, "ANALYZE");

        var latest = await store.ExplainAsync(latestPerNode: true);
        var history = await store.ExplainAsync(latestPerNode: false, "node-3-07", 1440);
        var plans = $"{GetType().Name}\nLatestPerNode:\n{string.Join('\n', latest)}\nHistory:\n{string.Join('\n', history)}";
        Console.WriteLine(plans);

        foreach (var line in latest.Concat(history))
        {
            // SQLite: "SCAN <table>" reads all of it (with or without an index), "USE TEMP B-TREE" sorts.
            // PostgreSQL: "Seq Scan" reads all of it, "Sort" sorts.
            Assert.DoesNotMatch(@"SCAN (measurements|[a-z]\b|[a-z]_\d)|TEMP B-TREE|Seq Scan|Sort", line);
        }
        Assert.Contains(history, line => line.Contains("ux_measurements_node_id_timestamp", StringComparison.Ordinal));
        Assert.Contains(latest, line => line.Contains("ux_measurements_node_id_timestamp", StringComparison.Ordinal));
        Assert.Equal(50, (await store.LatestPerNodeAsync()).Count);
    }

    [Fact]
    public async Task A_legacy_measurement_table_is_left_untouched()
    {
        var store = await NewStoreAsync(migrate: false);
        // The original collector's table (SQLAlchemy model: singular name, Berlin wall-clock text timestamps).
        Execute(store, """
            CREATE TABLE measurement (id INTEGER PRIMARY KEY, "nodeId" VARCHAR(64), "timestamp" VARCHAR(32), "batteryVoltage" FLOAT);
            INSERT INTO measurement (id, "nodeId", "timestamp", "batteryVoltage") VALUES (1, 'Elektra-Dach', '2018-09-18 07:52:42', 12.176);
            INSERT INTO measurement (id, "nodeId", "timestamp", "batteryVoltage") VALUES (2, 'Elektra-Dach', '2018-09-18 07:53:42', 12.18);
            """);
        var before = Query(store, "SELECT id, \"nodeId\", \"timestamp\", \"batteryVoltage\" FROM measurement ORDER BY id");

        store.Migrate();
        store.Migrate();
        await store.WriteAsync([Sample("router-ffopenmppt.log")]);
        await store.DeleteNodeAsync("Elektra-Dach");
        await store.WriteAsync([Sample("router-ffopenmppt.log")]);
        await store.LatestPerNodeAsync();

        Assert.Equal(before, Query(store, "SELECT id, \"nodeId\", \"timestamp\", \"batteryVoltage\" FROM measurement ORDER BY id"));
        Assert.Equal(["log_bookmarks", "measurement", "measurement_rollups", "measurements", "raw_horizons", "schema_version"], Query(store, TableListSql).Select(r => (string)r[0]!));
        Assert.Equal(7, await store.CountAsync());
    }

    private async Task<long[]> TimestampsAsync(MeasurementStore store, string node) =>
        (await store.HistoryAsync(node, 100_000)).Select(r => r.Measurement.Timestamp).Order().ToArray();

    /// <summary>Calls a batched delete until it returns 0, checking every call stays within the batch; returns the counts.</summary>
    private static async Task<List<int>> UntilNothingLeftAsync(Func<Task<int>> call, int batchSize)
    {
        var counts = new List<int>();
        while (true)
        {
            var deleted = await call();
            Assert.InRange(deleted, 0, batchSize);
            counts.Add(deleted);
            if (deleted == 0) return counts;
            Assert.True(counts.Count < 1000, "the deletes do not come to an end");
        }
    }

    [Fact]
    public async Task Delete_older_than_removes_the_oldest_rows_before_the_cutoff_a_batch_at_a_time()
    {
        var store = await NewStoreAsync();
        string[] nodes = ["node-a", "node-b", "node-c"];
        await store.WriteAsync(nodes.Select(n => (IReadOnlyList<Measurement>)Enumerable.Range(0, 50)
            .Select(i => Make(n, T0 + i * 60)).OrderBy(_ => Guid.NewGuid()).ToArray()).ToArray());
        var cutoff = T0 + 20 * 60; // 20 rows of each node are older; the row at the cutoff itself stays

        Assert.Equal(7, await store.DeleteOlderThanAsync(cutoff, 7));
        // A node at a time, oldest first: the first node's seven oldest rows are gone, the others' all there.
        Assert.Equal(150 - 7, await store.CountAsync());
        Assert.Equal(Enumerable.Range(7, 43).Select(i => T0 + i * 60), await TimestampsAsync(store, "node-a"));
        Assert.Equal(50, (await TimestampsAsync(store, "node-b")).Length);

        var counts = await UntilNothingLeftAsync(() => store.DeleteOlderThanAsync(cutoff, 7), 7);

        Assert.Equal(60 - 7, counts.Sum());
        Assert.All(counts.SkipLast(2), c => Assert.Equal(7, c)); // full batches while more is left
        Assert.Equal(0, await store.DeleteOlderThanAsync(cutoff, 7));
        foreach (var n in nodes)
            Assert.Equal(Enumerable.Range(20, 30).Select(i => T0 + i * 60), await TimestampsAsync(store, n));
        Assert.Equal(0, await store.DeleteOlderThanAsync(T0, 1000)); // nothing before the first row
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.DeleteOlderThanAsync(cutoff, 0));
    }

    [Fact]
    public async Task Trim_per_node_keeps_exactly_each_nodes_newest_rows()
    {
        var store = await NewStoreAsync();
        const int keep = 5;
        var rows = new Dictionary<string, long[]>
        {
            ["node-a"] = Enumerable.Range(0, 10).Select(i => T0 + i * 60).ToArray(),
            ["node-b"] = Enumerable.Range(0, keep).Select(i => T0 + i * 60).ToArray(), // exactly as many as kept
            ["node-c"] = Enumerable.Range(0, 3).Select(i => T0 + i * 60).ToArray(),    // fewer
            ["node-d"] = Enumerable.Range(0, 12).Select(i => T0 + 5000 - i * 15).ToArray(),
        };
        await store.WriteAsync(rows.Select(kv => (IReadOnlyList<Measurement>)kv.Value.OrderBy(_ => Guid.NewGuid())
            .Select(t => Make(kv.Key, t)).ToArray()).ToArray());

        Assert.Equal(4, await store.TrimPerNodeAsync(keep, 4));
        // Newer rows arriving between two batches are kept, and push older ones out.
        await store.WriteAsync([[Make("node-a", T0 + 10_000), Make("node-a", T0 + 10_060)]]);
        rows["node-a"] = [.. rows["node-a"], T0 + 10_000, T0 + 10_060];
        var counts = await UntilNothingLeftAsync(() => store.TrimPerNodeAsync(keep, 4), 4);

        Assert.Equal(5 + 2 + 7, 4 + counts.Sum());
        Assert.All(counts.SkipLast(2), c => Assert.Equal(4, c));
        foreach (var (node, timestamps) in rows)
            Assert.Equal(timestamps.Order().TakeLast(keep), await TimestampsAsync(store, node));
        Assert.Equal(0, await store.TrimPerNodeAsync(keep, 4));
        Assert.Equal(2 + 2 + 2, await store.TrimPerNodeAsync(3, 100)); // nodes a, b and d lose 2 each; c has exactly 3
        Assert.All(rows.Keys, n => Assert.Equal(3, TimestampsAsync(store, n).Result.Length));
        Assert.Equal(0, await (await NewStoreAsync()).TrimPerNodeAsync(keep, 4)); // an empty table
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.TrimPerNodeAsync(0, 4));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.TrimPerNodeAsync(keep, 0));
    }

    [Fact]
    public async Task Trim_per_node_takes_every_node_in_turn_with_a_batch_of_one()
    {
        var store = await NewStoreAsync();
        var nodes = Enumerable.Range(0, 6).Select(i => $"node-{i}").ToArray();
        await store.WriteAsync(nodes.Select((n, i) => (IReadOnlyList<Measurement>)Enumerable.Range(0, 2 + i)
            .Select(k => Make(n, T0 + k * 60)).ToArray()).ToArray());

        var counts = await UntilNothingLeftAsync(() => store.TrimPerNodeAsync(2, 1), 1);

        Assert.Equal(Enumerable.Range(0, 6).Sum(), counts.Sum());
        foreach (var (n, i) in nodes.Select((n, i) => (n, i)))
            Assert.Equal([T0 + i * 60, T0 + (i + 1) * 60], await TimestampsAsync(store, n));
    }

    [Fact]
    public async Task Retention_deletes_walk_the_unique_index_instead_of_scanning()
    {
        var store = await NewStoreAsync();
        for (var n = 0; n < 5; n++)
            await store.WriteAsync(Enumerable.Range(0, 10).Select(node => (IReadOnlyList<Measurement>)Enumerable.Range(0, 400)
                .Select(i => Make($"node-{n}-{node:D2}", T0 + i * 60)).ToArray()).ToArray());
        Execute(store, "ANALYZE");

        static string Inline(string sql, params (string Name, object Value)[] values) =>
            values.Aggregate(sql, (s, v) => s.Replace("@" + v.Name, v.Value is string text ? $"'{text}'" : Convert.ToString(v.Value, System.Globalization.CultureInfo.InvariantCulture)));
        var statements = new Dictionary<string, string>
        {
            ["NodeAtOrAfter"] = Inline(Schema.NodeAtOrAfterSql, ("from", "node-3")),
            ["NodeAfter"] = Inline(Schema.NodeAfterSql, ("after", "node-3-04")),
            ["FirstToTrim"] = Inline(Schema.FirstToTrimSql, ("node", "node-3-04"), ("keep", 300)),
            ["CountToTrim"] = Inline(Schema.CountToTrimSql, ("node", "node-3-04"), ("through", T0 + 6000), ("limit", 100)),
            ["TrimNode"] = Inline(Schema.TrimNodeSql, ("node", "node-3-04"), ("through", T0 + 6000), ("limit", 100)),
        };
        foreach (var (name, sql) in statements)
        {
            var plan = await store.ExplainAsync(sql);
            Console.WriteLine($"{GetType().Name} {name}:\n{string.Join('\n', plan)}");
            // As above; SQLite's "SCAN doomed" reads the counting subquery's own few rows, not the table.
            Assert.All(plan, line => Assert.DoesNotMatch(@"SCAN (measurements|[a-z]\b|[a-z]_\d)|TEMP B-TREE|Seq Scan|Sort", line));
            Assert.Contains(plan, line => line.Contains("ux_measurements_node_id_timestamp", StringComparison.Ordinal));
        }
        Assert.Equal(20_000, await store.CountAsync()); // explaining deleted nothing
    }

    [Fact]
    public async Task An_empty_batch_and_empty_groups_are_fine()
    {
        var store = await NewStoreAsync();
        Assert.Empty(await store.WriteAsync([]));
        var outcomes = await store.WriteAsync([[], []]);
        Assert.All(outcomes, o => Assert.Equal(new WriteOutcome(0, 0, []).Stored, o.Stored));
        Assert.All(outcomes, o => Assert.Empty(o.Newest));
        Assert.Equal(0, await store.CountAsync());
    }
}
