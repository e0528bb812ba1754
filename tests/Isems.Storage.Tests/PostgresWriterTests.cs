using Isems.LineFormat;
using Isems.Testing;
using Npgsql;

namespace Isems.Storage.Tests;

/// <summary>
/// The PostgreSQL write path (binary COPY into a per-connection staging table, a batch's nodes shared over several
/// writer connections): duplicates counted as before, rollups exactly those of the rows stored, and several writers
/// (as several collector processes) on one database at once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresWriterTests : IAsyncLifetime
{
    private const long T0 = 1_537_228_800; // 2018-09-18T00:00:00Z, a day's start
    private readonly List<MeasurementStore> _stores = [];
    private PostgresServer _server = null!;

    public async Task InitializeAsync() => _server = await PostgresServer.SharedAsync();

    public Task DisposeAsync()
    {
        foreach (var store in _stores) store.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A store whose every batch, however small, is shared over <paramref name="connections"/> connections.</summary>
    private MeasurementStore Open(string url, int connections = 2)
    {
        var store = new MeasurementStore(DatabaseTarget.Parse(url, Path.GetTempPath()), maintainRollups: true,
            new PostgresWriteOptions(connections, Copy: true, ShareFromRows: 1));
        _stores.Add(store);
        store.Migrate();
        return store;
    }

    /// <summary>
    /// A line whose numbers are multiples of 1/8: sums of them are exact in any order, so the rollups (sums of per-batch
    /// sums) and a GROUP BY over the raw rows must agree to the last bit.
    /// </summary>
    private static Measurement Line(string node, long timestamp, int variant = 0)
    {
        double V(int k) => ((timestamp / 60 + k * 7 + variant * 3) % 97) / 8.0;
        return new Measurement(node, "1", timestamp, "ATmega8_A_1", V(0), variant % 3, V(1), V(2), V(3), V(4), V(5), V(6), V(7), V(8),
            7, 20, 52.5, 13.25, (int)(timestamp / 60 % 5 == 0 ? 0x900 : 0x002 << (variant % 4)));
    }

    private static NpgsqlConnection Raw(MeasurementStore store)
    {
        var connection = new NpgsqlConnection(store.Target.ConnectionString + ";Pooling=false");
        connection.Open();
        return connection;
    }

    private static long Scalar(MeasurementStore store, string sql)
    {
        using var connection = Raw(store);
        using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>The rollups as stored, and as a GROUP BY over the raw rows (but those <paramref name="exceptRaw"/> names) computes them.</summary>
    private static (long Stored, long Expected, long Differing) CompareRollups(MeasurementStore store, string exceptRaw = "false")
    {
        var expected = $"""
            SELECT node_id, p.period, timestamp / p.period * p.period AS start, {Rollups.Aggregates(DatabaseKind.PostgreSql)}
            FROM measurements CROSS JOIN (VALUES (3600), (86400)) AS p (period)
            WHERE NOT ({exceptRaw})
            GROUP BY node_id, p.period, timestamp / p.period * p.period
            """;
        var stored = $"SELECT node_id, period, start, {Rollups.AggregateColumns} FROM measurement_rollups";
        return (Scalar(store, "SELECT COUNT(*) FROM measurement_rollups"), Scalar(store, $"SELECT COUNT(*) FROM ({expected}) e"),
            Scalar(store, $"SELECT COUNT(*) FROM (({stored}) EXCEPT ({expected}) UNION ALL (({expected}) EXCEPT ({stored}))) d"));
    }

    /// <summary>What the store must answer for a batch: the first occurrence of each key not stored before counts as stored.</summary>
    private static (int Stored, int Duplicates)[] ExpectedOutcomes(IReadOnlyList<IReadOnlyList<Measurement>> batch,
        Dictionary<(string, long), Measurement> storedSoFar)
    {
        return batch.Select(group =>
        {
            var stored = 0;
            foreach (var line in group)
                if (storedSoFar.TryAdd((line.NodeId, line.Timestamp), line))
                    stored++;
            return (stored, group.Count - stored);
        }).ToArray();
    }

    private static async Task AssertRowsAsync(MeasurementStore store, Dictionary<(string, long), Measurement> expected)
    {
        Assert.Equal(expected.Count, await store.CountAsync());
        foreach (var node in expected.Keys.Select(k => k.Item1).Distinct())
            Assert.Equal(expected.Values.Where(l => l.NodeId == node).OrderByDescending(l => l.Timestamp),
                (await store.HistoryAsync(node, 100_000)).Select(r => r.Measurement));
    }

    [Fact]
    public async Task Duplicates_inside_a_batch_and_across_batches_count_as_before_over_two_connections()
    {
        var store = Open(await _server.CreateDatabaseAsync());
        var expected = new Dictionary<(string, long), Measurement>();

        // Four nodes, each log with repeats inside it (other values: the first one is kept), node-b in two groups, and a
        // group of two nodes (an MQTT message), which sends the whole batch over one connection.
        IReadOnlyList<Measurement> Log(string node, int from, int count, int variant) =>
            Enumerable.Range(from, count).SelectMany(i => i % 10 == 0
                ? new[] { Line(node, T0 + i * 60, variant), Line(node, T0 + i * 60, variant + 1) }
                : [Line(node, T0 + i * 60, variant)]).ToArray();
        IReadOnlyList<IReadOnlyList<Measurement>> first = [Log("node-a", 0, 300, 0), Log("node-b", 0, 200, 0), Log("node-b", 100, 200, 5), Log("node-c", 0, 250, 0)];
        IReadOnlyList<IReadOnlyList<Measurement>> second = [Log("node-a", 150, 300, 9), Log("node-d", 0, 120, 0), Log("node-c", 0, 250, 2)];
        IReadOnlyList<IReadOnlyList<Measurement>> mixed = [[Line("node-d", T0 + 60, 4), Line("node-e", T0, 0), Line("node-a", T0 + 460 * 60, 0)], Log("node-e", 0, 50, 1)];

        foreach (var batch in new[] { first, second, mixed, first })
        {
            var want = ExpectedOutcomes(batch, expected);
            var outcomes = await store.WriteAsync(batch);
            Assert.Equal(want, outcomes.Select(o => (o.Stored, o.Duplicates)));
            for (var g = 0; g < batch.Count; g++)
                foreach (var newest in outcomes[g].Newest)
                    Assert.Equal(expected[(newest.Measurement.NodeId, newest.Measurement.Timestamp)], newest.Measurement);
        }

        await AssertRowsAsync(store, expected);
        var (stored, computed, differing) = CompareRollups(store);
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.True(stored > 20);
    }

    [Fact]
    public async Task Rollups_equal_a_group_by_over_the_raw_rows_after_copy_writes_with_duplicates()
    {
        var store = Open(await _server.CreateDatabaseAsync());
        var expected = new Dictionary<(string, long), Measurement>();
        var random = new Random(15);
        // 30 batches of 8 nodes' lines spread over three days, each line drawn at random (so about half are repeats
        // of lines stored before or earlier in the batch, with other values).
        for (var b = 0; b < 30; b++)
        {
            var batch = Enumerable.Range(0, 8).Select(n => (IReadOnlyList<Measurement>)Enumerable.Range(0, 150)
                .Select(_ => Line($"node-{n}", T0 + random.Next(0, 3 * 1440) * 60, random.Next(0, 4))).ToArray()).ToArray();
            var want = ExpectedOutcomes(batch, expected);
            Assert.Equal(want, (await store.WriteAsync(batch)).Select(o => (o.Stored, o.Duplicates)));
        }

        await AssertRowsAsync(store, expected);
        var (stored, computed, differing) = CompareRollups(store);
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.Equal(expected.Count, Scalar(store, "SELECT SUM(count) FROM measurement_rollups WHERE period = 3600"));
    }

    [Fact]
    public async Task Two_writers_writing_overlapping_lines_at_once_store_each_row_once_with_exact_rollups()
    {
        var url = await _server.CreateDatabaseAsync();
        // Two stores, as two collector processes: each its own two writer connections and staging tables.
        var one = Open(url);
        var two = Open(url);
        var distinct = new HashSet<(string, long)>();
        long storedByBoth = 0;
        for (var round = 0; round < 12; round++)
        {
            // The same six nodes, the same minutes give or take a few, in the same key order and the reverse: whichever
            // inserts a row first, the other must wait for it and skip it, without a deadlock on the rows or the rollups.
            IReadOnlyList<IReadOnlyList<Measurement>> Batch(int shift, int variant, bool reverse) =>
                (reverse ? Enumerable.Range(0, 6).Reverse() : Enumerable.Range(0, 6)).Select(n => (IReadOnlyList<Measurement>)Enumerable
                    .Range(round * 400 + shift, 500).Select(i => Line($"node-{n}", T0 + i * 60, variant)).ToArray()).ToArray();
            var a = Batch(0, 1, reverse: false);
            var b = Batch(round % 3 * 50, 2, reverse: round % 2 == 1);
            foreach (var line in a.Concat(b).SelectMany(g => g)) distinct.Add((line.NodeId, line.Timestamp));

            var outcomes = (await Task.WhenAll(Task.Run(() => one.WriteAsync(a)), Task.Run(() => two.WriteAsync(b)))).SelectMany(o => o).ToArray();
            storedByBoth += outcomes.Sum(o => (long)o.Stored);
            Assert.Equal(a.Concat(b).Sum(g => g.Count), outcomes.Sum(o => o.Stored + o.Duplicates));
            Assert.Equal(distinct.Count, storedByBoth); // every row new to the database counted as stored by exactly one writer
        }

        Assert.Equal(distinct.Count, storedByBoth);
        Assert.Equal(distinct.Count, await one.CountAsync());
        Assert.Equal(0, Scalar(one, "SELECT COUNT(*) FROM (SELECT node_id, timestamp FROM measurements GROUP BY 1, 2 HAVING COUNT(*) > 1) d"));
        var (stored, computed, differing) = CompareRollups(one);
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.Equal(distinct.Count, Scalar(one, "SELECT SUM(count) FROM measurement_rollups WHERE period = 86400"));
    }

    [Fact]
    public async Task Two_writers_copying_the_same_new_rows_at_once_store_each_row_once_with_exact_rollups()
    {
        var url = await _server.CreateDatabaseAsync();
        var one = Open(url);
        var two = Open(url);
        var distinct = new HashSet<(string, long)>();
        long storedByBoth = 0;
        for (var round = 0; round < 10; round++)
        {
            // Every round's lines are newer than all stored ones, so each writer copies its share straight into the table;
            // the two overlap by half (and in some rounds wholly), so one of them finds its COPY refused by the other's
            // rows and must write its share again, skipping them.
            IReadOnlyList<IReadOnlyList<Measurement>> Batch(int shift, int variant) =>
                Enumerable.Range(0, 4).Select(n => (IReadOnlyList<Measurement>)Enumerable
                    .Range(round * 1000 + shift, 600).Select(i => Line($"node-{n}", T0 + i * 60, variant)).ToArray()).ToArray();
            var a = Batch(0, 1);
            var b = Batch(round % 3 == 0 ? 0 : 300, 2);
            foreach (var line in a.Concat(b).SelectMany(g => g)) distinct.Add((line.NodeId, line.Timestamp));

            var outcomes = await Task.WhenAll(Task.Run(() => one.WriteAsync(a)), Task.Run(() => two.WriteAsync(b)));
            storedByBoth += outcomes.SelectMany(o => o).Sum(o => (long)o.Stored);
            Assert.Equal(a.Concat(b).Sum(g => g.Count), outcomes.SelectMany(o => o).Sum(o => o.Stored + o.Duplicates));
            Assert.Equal(distinct.Count, storedByBoth);
            // Each writer's newest row per node is read back as stored, whoever stored it.
            foreach (var (batch, outcome) in new[] { (a, outcomes[0]), (b, outcomes[1]) })
                for (var g = 0; g < batch.Count; g++)
                    Assert.Equal(batch[g][^1].Timestamp, Assert.Single(outcome[g].Newest).Measurement.Timestamp);
        }

        Assert.Equal(distinct.Count, await one.CountAsync());
        Assert.Equal(0, Scalar(one, "SELECT COUNT(*) FROM (SELECT node_id, timestamp FROM measurements GROUP BY 1, 2 HAVING COUNT(*) > 1) d"));
        var (stored, computed, differing) = CompareRollups(one);
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.Equal(distinct.Count, Scalar(one, "SELECT SUM(count) FROM measurement_rollups WHERE period = 3600"));
    }

    [Fact]
    public async Task New_lines_after_a_gap_filled_later_are_stored_once_with_exact_rollups()
    {
        var store = Open(await _server.CreateDatabaseAsync(), connections: 1);
        var expected = new Dictionary<(string, long), Measurement>();
        // Newer lines first (copied straight in), then older ones into the gap and some repeats of both (through the
        // staging table, since they are not all newer than what is stored).
        IReadOnlyList<Measurement> Range(int from, int count, int variant) =>
            Enumerable.Range(from, count).Select(i => Line("node-a", T0 + i * 60, variant)).ToArray();
        foreach (var batch in new IReadOnlyList<IReadOnlyList<Measurement>>[]
                 {
                     [Range(500, 200, 0)], [Range(700, 100, 1)], [Range(0, 100, 2), Range(650, 100, 3)], [Range(100, 450, 4)],
                 })
        {
            var want = ExpectedOutcomes(batch, expected);
            Assert.Equal(want, (await store.WriteAsync(batch)).Select(o => (o.Stored, o.Duplicates)));
        }

        await AssertRowsAsync(store, expected);
        var (stored, computed, differing) = CompareRollups(store);
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.Equal(800, Scalar(store, "SELECT SUM(count) FROM measurement_rollups WHERE period = 86400"));
    }

    [Fact]
    public async Task A_row_another_writer_is_inserting_is_waited_for_and_then_counted_as_a_duplicate()
    {
        var store = Open(await _server.CreateDatabaseAsync(), connections: 1);
        var lines = Enumerable.Range(0, 100).Select(i => Line("node-a", T0 + i * 60)).ToArray();
        var theirs = Line("node-a", T0 + 50 * 60, variant: 3);

        // Another writer's transaction holds a row of the batch, not yet committed: the plain insert from the staging
        // table waits for it, is refused by the unique index when it commits, and the batch runs again skipping it.
        await using var other = Raw(store);
        await using var transaction = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            $"INSERT INTO measurements ({Schema.Columns}) VALUES ('node-a', '1', {theirs.Timestamp}, 'x', 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7)",
            other, transaction))
            await insert.ExecuteNonQueryAsync();
        var write = Task.Run(() => store.WriteAsync([lines]));
        await Task.Delay(1500);
        Assert.False(write.IsCompleted, "the write should wait for the other writer's row");
        await transaction.CommitAsync();

        var outcome = Assert.Single(await write.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((99, 1), (outcome.Stored, outcome.Duplicates));
        Assert.Equal(100, await store.CountAsync());
        Assert.Equal(7, (await store.HistoryAsync("node-a", 100)).Single(r => r.Measurement.Timestamp == theirs.Timestamp).Measurement.Status);
        // The rollups count the 99 rows this writer inserted, not the other writer's (it kept none).
        var (stored, computed, differing) = CompareRollups(store, $"node_id = 'node-a' AND timestamp = {theirs.Timestamp}");
        Assert.Equal((computed, 0L), (stored, differing));
        Assert.Equal(99, Scalar(store, "SELECT SUM(count) FROM measurement_rollups WHERE period = 86400"));
    }

    [Fact]
    public async Task A_bookmark_commits_with_its_lines_on_whichever_connection_writes_them()
    {
        var store = Open(await _server.CreateDatabaseAsync());
        var bookmarks = Enumerable.Range(0, 4)
            .Select(n => new LogBookmark($"http://10.0.0.{n}/log", $"http://10.0.0.{n}/log", 1000 + n, null, [(byte)n], 10, NodeId: $"node-{n}"))
            .ToArray();
        IReadOnlyList<IReadOnlyList<Measurement>> batch = Enumerable.Range(0, 4)
            .Select(n => (IReadOnlyList<Measurement>)Enumerable.Range(0, 200).Select(i => Line($"node-{n}", T0 + i * 60)).ToArray()).ToArray();
        await store.WriteAsync(batch, bookmarks);
        Assert.Equal(bookmarks.OrderBy(b => b.NodeKey, StringComparer.Ordinal).Select(b => (b.NodeKey, b.Offset, b.NodeId)),
            (await store.BookmarksAsync()).OrderBy(b => b.NodeKey, StringComparer.Ordinal).Select(b => (b.NodeKey, b.Offset, b.NodeId)));

        // A batch one of whose nodes the database refuses fails whole on its connection: that node's lines and bookmark
        // are not stored (the other connection's nodes may be; the writer sends the batch again, and they are duplicates).
        var bad = batch.Select((g, n) => (IReadOnlyList<Measurement>)g.Select(l => l with { Timestamp = l.Timestamp + 200 * 60 })
            .Select((l, i) => n == 2 && i == 7 ? l with { IsemsRevision = null! } : l).ToArray()).ToArray();
        await Assert.ThrowsAnyAsync<Exception>(() => store.WriteAsync(bad, bookmarks.Select(b => b with { Offset = b.Offset + 1 }).ToArray()));
        Assert.Equal(200, (await store.HistoryAsync("node-2", 1000)).Count);
        Assert.Equal(1002, (await store.BookmarksAsync()).Single(b => b.NodeId == "node-2").Offset);
        foreach (var saved in await store.BookmarksAsync())
            Assert.Equal(saved.Offset == 1000 + int.Parse(saved.NodeId![5..]) ? 200 : 400, (await store.HistoryAsync(saved.NodeId!, 1000)).Count);

        // Fixed, it goes in, and the writer's connections work on.
        var fixedBatch = bad.Select(g => (IReadOnlyList<Measurement>)g.Select(l => l.IsemsRevision is null ? l with { IsemsRevision = "1" } : l).ToArray()).ToArray();
        await store.WriteAsync(fixedBatch, bookmarks.Select(b => b with { Offset = b.Offset + 1 }).ToArray());
        Assert.Equal(1600, await store.CountAsync());
        Assert.All(await store.BookmarksAsync(), b => Assert.Equal(1001 + int.Parse(b.NodeId![5..]), b.Offset));
        var (stored, computed, differing) = CompareRollups(store);
        Assert.Equal((computed, 0L), (stored, differing));
    }
}
