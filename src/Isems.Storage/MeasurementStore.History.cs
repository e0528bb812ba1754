using System.Runtime.CompilerServices;
using System.Text;
using LinqToDB;
using LinqToDB.Data;

namespace Isems.Storage;

public sealed partial class MeasurementStore
{
    private static readonly string RangeSql =
        $"SELECT {Schema.SelectColumns} FROM {Schema.Table} WHERE node_id = @node AND timestamp >= @from AND timestamp < @to ORDER BY timestamp LIMIT @limit";

    private static readonly string RawAggregateSql =
        $"SELECT timestamp, status, {string.Join(", ", Rollups.Columns)} FROM {Schema.Table} " +
        "WHERE node_id = @node AND timestamp >= @from AND timestamp < @to ORDER BY timestamp";

    private static readonly string RollupSql =
        $"SELECT start, {Rollups.AggregateColumns} FROM {Rollups.Table} WHERE node_id = @node AND period = @period AND start >= @from AND start < @to ORDER BY start";

    private static readonly string ExportNodeSql =
        $"SELECT {Schema.SelectColumns} FROM {Schema.Table} WHERE node_id = @node AND timestamp >= @from AND timestamp < @to ORDER BY timestamp";

    private static readonly string HorizonSql = $"SELECT deleted_through FROM {Rollups.HorizonTable} WHERE node_id = @node";

    /// <summary>
    /// The node's rows with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/>, oldest first, at most
    /// <paramref name="limit"/> of them (ask for one more than allowed to learn that there are too many).
    /// </summary>
    public async Task<IReadOnlyList<StoredMeasurement>> RangeAsync(string nodeId, long from, long to, int limit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_sqliteReads is { } reads)
        {
            // Through SQLite's C API, as the export reads its rows: a day raw no slower than /latest's newest rows.
            ct.ThrowIfCancellationRequested();
            var connection = reads.Rent();
            try
            {
                var statement = connection.Statement(RangeSql);
                statement.Bind(1, nodeId);
                statement.Bind(2, from);
                statement.Bind(3, to);
                statement.Bind(4, limit);
                var row = new SqliteExportRow(statement) { NodeId = nodeId };
                var stored = new List<StoredMeasurement>(Math.Min(limit, 4096));
                while (statement.Step()) stored.Add(row.ToStored());
                statement.Reset();
                return stored;
            }
            finally
            {
                reads.Return(connection);
            }
        }
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = RangeSql;
            AddParameter(command, "node", nodeId);
            AddParameter(command, "from", from);
            AddParameter(command, "to", to);
            AddParameter(command, "limit", limit);
            var rows = new List<StoredMeasurement>(Math.Min(limit, 4096));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) rows.Add(Schema.ReadStored(reader));
            return (IReadOnlyList<StoredMeasurement>)rows;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The first instant (Unix seconds, a whole hour) from which the node's raw rows are all kept: before it retention
    /// may have deleted some, and only the rollups know them. Null when retention never deleted any of the node's rows.
    /// </summary>
    public async Task<long?> RawKeptFromAsync(string nodeId, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(db => RawKeptFromAsync(db, nodeId, ct), ct).ConfigureAwait(false);
    }

    private static async Task<long?> RawKeptFromAsync(DataConnection db, string nodeId, CancellationToken ct)
    {
        var through = await db.ExecuteAsync<long?>(HorizonSql, ct, new DataParameter("node", nodeId, DataType.NVarChar)).ConfigureAwait(false);
        return RawKeptFrom(through);
    }

    private static long? RawKeptFrom(long? deletedThrough) => deletedThrough is { } t ? Rollups.AlignUp(t + 1, Rollups.Hour) : null;

    /// <summary>
    /// The node's rows with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/> in buckets of
    /// <paramref name="bucketSeconds"/> aligned to the Unix epoch, empty buckets left out, oldest first. Whole periods
    /// of a rollup that the bucket is a multiple of are read from the rollups; the rest (the range's ragged ends, or
    /// every row when the bucket is no multiple of an hour) from the raw rows. Where retention has deleted raw rows the
    /// hourly rollups stand in for them, and the answer says so. On SQLite the rows are read through SQLite's C API
    /// (<see cref="SqliteStatement"/>), straight into the buckets' arrays.
    /// </summary>
    public async Task<AggregatedHistory> AggregateAsync(string nodeId, long from, long to, long bucketSeconds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSeconds, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var capacity = (int)Math.Clamp((to - from) / bucketSeconds + 2, 1, 16_384);
        if (_sqliteReads is { } reads)
        {
            ct.ThrowIfCancellationRequested();
            var connection = reads.Rent();
            try
            {
                var horizon = connection.Statement(HorizonSql);
                horizon.Bind(1, nodeId);
                long? through = horizon.Step() ? horizon.Int64(0) : null;
                horizon.Reset();
                var (segments, deletedBefore) = Segments(from, to, bucketSeconds, RawKeptFrom(through));
                if (capacity < ParallelBuckets || SplitInHalves(segments, bucketSeconds) is not var (earlier, later))
                    return new AggregatedHistory(ReadSqlite(connection, nodeId, segments, bucketSeconds, capacity), deletedBefore);

                // A long answer (a year at 1 h) is read in two halves at once, the later on a connection of its own: no
                // bucket spans the split, so each half's buckets are exact and the later ones follow the earlier.
                // Each half reads its own snapshot; both are at least as new as the version the caller read first.
                HistoryBuckets? first = null, second = null;
                InParallel(
                    () => first = ReadSqlite(connection, nodeId, earlier, bucketSeconds, capacity / 2 + 2),
                    () =>
                    {
                        var own = reads.Rent();
                        try
                        {
                            second = ReadSqlite(own, nodeId, later, bucketSeconds, capacity / 2 + 2);
                        }
                        finally
                        {
                            reads.Return(own);
                        }
                    });
                first!.Append(second!);
                return new AggregatedHistory(first, deletedBefore);
            }
            finally
            {
                reads.Return(connection);
            }
        }

        return await RunAsync(async db =>
        {
            var rawFrom = await RawKeptFromAsync(db, nodeId, ct).ConfigureAwait(false);
            var (segments, deletedBefore) = Segments(from, to, bucketSeconds, rawFrom);
            var buckets = new HistoryBuckets(capacity);
            var connection = db.OpenDbConnection();
            foreach (var (period, a, b) in segments)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = period > 0 ? RollupSql : RawAggregateSql;
                AddParameter(command, "node", nodeId);
                if (period > 0) AddParameter(command, "period", period);
                AddParameter(command, "from", a);
                AddParameter(command, "to", b);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var columns = new ReaderColumns(reader);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) MergeRow(columns, period > 0, buckets, bucketSeconds);
            }
            return new AggregatedHistory(buckets, deletedBefore);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>From how many buckets an answer is read (and written) in two halves at once.</summary>
    public const int ParallelBuckets = 2_048;

    /// <summary>Runs both at once (the calling thread runs one); an exception of either is thrown as itself.</summary>
    public static void InParallel(Action one, Action other)
    {
        try
        {
            Parallel.Invoke(one, other);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    private static HistoryBuckets ReadSqlite(SqliteReadConnection connection, string nodeId, List<(int Period, long From, long To)> segments, long bucketSeconds, int capacity)
    {
        var buckets = new HistoryBuckets(capacity);
        foreach (var (period, a, b) in segments)
        {
            var rollup = period > 0;
            var statement = connection.Statement(rollup ? RollupSql : RawAggregateSql);
            statement.Bind(1, nodeId);
            var p = 2;
            if (rollup) statement.Bind(p++, period);
            statement.Bind(p++, a);
            statement.Bind(p, b);
            var columns = new SqliteColumns(statement);
            while (statement.Step()) MergeRow(columns, rollup, buckets, bucketSeconds);
            statement.Reset();
        }
        return buckets;
    }

    /// <summary>
    /// The segments split at a bucket boundary in the middle of their longest rollup segment, or null when there is
    /// none to split: the earlier segments (up to that boundary) and the later ones, each in time order.
    /// </summary>
    private static (List<(int Period, long From, long To)> Earlier, List<(int Period, long From, long To)> Later)? SplitInHalves(
        List<(int Period, long From, long To)> segments, long bucketSeconds)
    {
        var longest = -1;
        for (var i = 0; i < segments.Count; i++)
            if (segments[i].Period > 0 && (longest < 0 || segments[i].To - segments[i].From > segments[longest].To - segments[longest].From))
                longest = i;
        if (longest < 0) return null;
        var (period, a, b) = segments[longest];
        // The bucket is a whole multiple of the period, so a bucket boundary is a period boundary too.
        var middle = Rollups.AlignDown(a + (b - a) / 2, bucketSeconds);
        if (middle <= a || middle >= b || bucketSeconds % period != 0) return null;
        var earlier = segments.Take(longest).Append((period, a, middle)).ToList();
        var later = segments.Skip(longest + 1).Prepend((period, middle, b)).ToList();
        return (earlier, later);
    }

    /// <summary>
    /// One row into its bucket, the same for every database: a rollup row (start, count, status, then sum, min, max of
    /// each key) or a raw row (timestamp, status, then each key; a NULL status counts as no bits). Generic over a struct
    /// so that SQLite's column reads are direct calls.
    /// </summary>
    private static void MergeRow<TRow>(TRow row, bool rollup, HistoryBuckets buckets, long bucketSeconds) where TRow : struct, IRowColumns
    {
        var slot = buckets.Slot(Rollups.AlignDown(row.Int64(0), bucketSeconds), out var first);
        if (rollup)
        {
            var count = row.Int64(1);
            if (count == 0) return;
            for (var k = 0; k < Rollups.KeyCount; k++)
                buckets.Put(slot, k, row.Double(3 + 3 * k), row.Double(4 + 3 * k), row.Double(5 + 3 * k), first);
            buckets.Counted(slot, count, row.Int32(2));
            return;
        }
        for (var k = 0; k < Rollups.KeyCount; k++)
        {
            var value = row.Double(2 + k);
            buckets.Put(slot, k, value, value, value, first);
        }
        buckets.Counted(slot, 1, row.Int32(1));
    }

    /// <summary>
    /// What to read for a range: whole periods of the rollup that the bucket is a multiple of (period > 0), raw rows
    /// for the rest (period 0), and the hourly rollups where retention deleted raw rows before
    /// <paramref name="rawFrom"/>; in time order, so that rows arrive oldest first.
    /// </summary>
    private static (List<(int Period, long From, long To)> Segments, long? DeletedBefore) Segments(long from, long to, long bucketSeconds, long? rawKeptFrom)
    {
        var rawFrom = rawKeptFrom ?? long.MinValue;
        var period = bucketSeconds % Rollups.Day == 0 ? Rollups.Day : bucketSeconds % Rollups.Hour == 0 ? Rollups.Hour : 0;
        var raw = new List<(long From, long To)>(2);
        var segments = new List<(int Period, long From, long To)>(4);
        if (period > 0 && Rollups.AlignUp(from, period) is var middleFrom && Rollups.AlignDown(to, period) is var middleTo && middleFrom < middleTo)
        {
            raw.Add((from, middleFrom));
            segments.Add((period, middleFrom, middleTo));
            raw.Add((middleTo, to));
        }
        else raw.Add((from, to));

        long? deletedBefore = null;
        foreach (var (a, b) in raw)
        {
            if (a >= b) continue;
            if (a < rawFrom)
            {
                // Raw rows may be gone here: whole hours from the rollups instead (an hour reaching past the range's
                // end or start is taken whole; it overlaps nothing else that is read).
                segments.Add((Rollups.Hour, Rollups.AlignDown(a, Rollups.Hour), Math.Min(b, rawFrom)));
                deletedBefore = rawFrom;
            }
            var kept = Math.Max(a, rawFrom);
            if (kept < b) segments.Add((0, kept, b));
        }
        segments.RemoveAll(s => s.From >= s.To);
        segments.Sort((x, y) => x.From != y.From ? x.From.CompareTo(y.From) : x.To.CompareTo(y.To));
        return (segments, deletedBefore);
    }

    /// <summary>
    /// The rows with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/> of one node, or of every node
    /// (<paramref name="nodeId"/> null) ordered by node id (ordinal) and then time, read as they are consumed: one node
    /// at a time through the unique index, so neither this process nor the database holds more than a row in hand.
    /// </summary>
    public async IAsyncEnumerable<StoredMeasurement> ExportAsync(string? nodeId, long from, long to, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var row in ExportRowsAsync(nodeId, from, to, ct).ConfigureAwait(false))
            yield return row.ToStored();
    }

    /// <summary>
    /// The same rows as <see cref="ExportAsync(string?, long, long, CancellationToken)"/>, each as the one
    /// <see cref="ExportRow"/> positioned on it (valid until the next): no object per row, for exports of millions of
    /// rows. On SQLite the rows are stepped through SQLite's C API and their text read as the database's UTF-8.
    /// </summary>
    public async IAsyncEnumerable<ExportRow> ExportRowsAsync(string? nodeId, long from, long to, [EnumeratorCancellation] CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_sqliteReads is { } reads)
        {
            ct.ThrowIfCancellationRequested();
            var connection = reads.Rent();
            try
            {
                var rows = connection.Statement(ExportNodeSql);
                var after = nodeId is null ? connection.Statement(Schema.NodeAfterSql) : null;
                var row = new SqliteExportRow(rows);
                var node = nodeId;
                if (node is null)
                {
                    var firstNode = connection.Statement(Schema.NodeAtOrAfterSql);
                    firstNode.Bind(1, "");
                    node = firstNode.Step() ? Encoding.UTF8.GetString(firstNode.Text(0)) : null;
                    firstNode.Reset();
                }
                while (node is not null)
                {
                    row.NodeId = node;
                    rows.Bind(1, node);
                    rows.Bind(2, from);
                    rows.Bind(3, to);
                    var n = 0;
                    while (rows.Step())
                    {
                        if ((++n & 4095) == 0) ct.ThrowIfCancellationRequested();
                        yield return row;
                    }
                    rows.Reset();
                    if (after is null) yield break;
                    after.Bind(1, node);
                    node = after.Step() ? Encoding.UTF8.GetString(after.Text(0)) : null;
                    after.Reset();
                }
                yield break;
            }
            finally
            {
                reads.Return(connection);
            }
        }

        await using var db = new DataConnection(_options);
        var current = nodeId ?? await db.ExecuteAsync<string?>(Schema.NodeAtOrAfterSql, ct, new DataParameter("from", "", DataType.NVarChar)).ConfigureAwait(false);
        var dbConnection = db.OpenDbConnection();
        while (current is not null)
        {
            await using (var command = dbConnection.CreateCommand())
            {
                command.CommandText = ExportNodeSql;
                AddParameter(command, "node", current);
                AddParameter(command, "from", from);
                AddParameter(command, "to", to);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var row = new ReaderExportRow(reader) { NodeId = current };
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) yield return row;
            }
            if (nodeId is not null) yield break;
            current = await db.ExecuteAsync<string?>(Schema.NodeAfterSql, ct, new DataParameter("after", current, DataType.NVarChar)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Deletes hourly and daily rollups that start before <paramref name="cutoffUnixSeconds"/>, at most
    /// <paramref name="batchSize"/> in one short transaction; returns how many. Call again until it returns 0.
    /// </summary>
    public async Task<int> DeleteRollupsOlderThanAsync(long cutoffUnixSeconds, int batchSize, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await RunAsync(db => db.ExecuteAsync(
                $"DELETE FROM {Rollups.Table} WHERE (node_id, period, start) IN " +
                $"(SELECT node_id, period, start FROM {Rollups.Table} WHERE start < @cutoff LIMIT @limit)", ct,
                new DataParameter("cutoff", cutoffUnixSeconds, DataType.Int64), new DataParameter("limit", batchSize, DataType.Int32)), ct).ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>How many rollups of the period the node has (tests and benchmarks).</summary>
    internal async Task<long> RollupCountAsync(string nodeId, int period)
    {
        await using var db = new DataConnection(_options);
        return await db.ExecuteAsync<long>($"SELECT COUNT(*) FROM {Rollups.Table} WHERE node_id = @node AND period = @period",
            new DataParameter("node", nodeId, DataType.NVarChar), new DataParameter("period", period, DataType.Int32));
    }
}
