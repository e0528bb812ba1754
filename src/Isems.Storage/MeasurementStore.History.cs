using System.Data.Common;
using System.Runtime.CompilerServices;
using LinqToDB;
using LinqToDB.Data;

namespace Isems.Storage;

/// <summary>One bucket of a node's history: its start (Unix seconds) and the aggregate of its rows.</summary>
public sealed record HistoryPoint(long Start, Aggregate Aggregate);

/// <summary>
/// A node's history in buckets, oldest first. <paramref name="RawDeletedBefore"/> is set when part of the range lay
/// where retention had deleted the raw rows: before that instant (Unix seconds) the points come from the hourly
/// rollups, whole hours at their starts.
/// </summary>
public sealed record AggregatedHistory(IReadOnlyList<HistoryPoint> Points, long? RawDeletedBefore);

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
        return through is { } t ? Rollups.AlignUp(t + 1, Rollups.Hour) : null;
    }

    /// <summary>
    /// The node's rows with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/> in buckets of
    /// <paramref name="bucketSeconds"/> aligned to the Unix epoch, empty buckets left out, oldest first. Whole periods
    /// of a rollup that the bucket is a multiple of are read from the rollups; the rest (the range's ragged ends, or
    /// every row when the bucket is no multiple of an hour) from the raw rows. Where retention has deleted raw rows the
    /// hourly rollups stand in for them, and the answer says so.
    /// </summary>
    public async Task<AggregatedHistory> AggregateAsync(string nodeId, long from, long to, long bucketSeconds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSeconds, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            var rawFrom = await RawKeptFromAsync(db, nodeId, ct).ConfigureAwait(false) ?? long.MinValue;
            var period = bucketSeconds % Rollups.Day == 0 ? Rollups.Day : bucketSeconds % Rollups.Hour == 0 ? Rollups.Hour : 0;
            var raw = new List<(long From, long To)>();
            var rolled = new List<(int Period, long From, long To)>();
            if (period > 0 && Rollups.AlignUp(from, period) is var middleFrom && Rollups.AlignDown(to, period) is var middleTo && middleFrom < middleTo)
            {
                raw.Add((from, middleFrom));
                rolled.Add((period, middleFrom, middleTo));
                raw.Add((middleTo, to));
            }
            else raw.Add((from, to));

            long? deletedBefore = null;
            for (var i = 0; i < raw.Count; i++)
            {
                var (a, b) = raw[i];
                if (a >= b || a >= rawFrom) continue;
                // Raw rows may be gone here: whole hours from the rollups instead (an hour reaching past the range's
                // end or start is taken whole; it overlaps nothing else that is read).
                rolled.Add((Rollups.Hour, Rollups.AlignDown(a, Rollups.Hour), Math.Min(b, rawFrom)));
                deletedBefore = rawFrom;
                raw[i] = (Math.Max(a, rawFrom), b);
            }

            var buckets = new Dictionary<long, Aggregate>();
            Aggregate At(long t)
            {
                var start = Rollups.AlignDown(t, bucketSeconds);
                if (!buckets.TryGetValue(start, out var aggregate)) buckets[start] = aggregate = new Aggregate();
                return aggregate;
            }

            var connection = db.OpenDbConnection();
            var keys = Rollups.KeyCount;
            foreach (var (p, a, b) in rolled)
            {
                if (a >= b) continue;
                await using var command = connection.CreateCommand();
                command.CommandText = RollupSql;
                AddParameter(command, "node", nodeId);
                AddParameter(command, "period", p);
                AddParameter(command, "from", a);
                AddParameter(command, "to", b);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var sum = new double[keys];
                var min = new double[keys];
                var max = new double[keys];
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    for (var k = 0; k < keys; k++)
                    {
                        sum[k] = reader.GetDouble(3 + 3 * k);
                        min[k] = reader.GetDouble(4 + 3 * k);
                        max[k] = reader.GetDouble(5 + 3 * k);
                    }
                    At(reader.GetInt64(0)).Merge(reader.GetInt64(1), reader.GetInt32(2), sum, min, max);
                }
            }
            foreach (var (a, b) in raw)
            {
                if (a >= b) continue;
                await using var command = connection.CreateCommand();
                command.CommandText = RawAggregateSql;
                AddParameter(command, "node", nodeId);
                AddParameter(command, "from", a);
                AddParameter(command, "to", b);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                var values = new double[keys];
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    for (var k = 0; k < keys; k++) values[k] = reader.GetDouble(2 + k);
                    At(reader.GetInt64(0)).Merge(1, reader.IsDBNull(1) ? 0 : reader.GetInt32(1), values, values, values);
                }
            }

            var points = buckets.Select(kv => new HistoryPoint(kv.Key, kv.Value)).ToList();
            points.Sort((x, y) => x.Start.CompareTo(y.Start));
            return new AggregatedHistory(points, deletedBefore);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The rows with <paramref name="from"/> ≤ timestamp &lt; <paramref name="to"/> of one node, or of every node
    /// (<paramref name="nodeId"/> null) ordered by node id (ordinal) and then time, read as they are consumed: one node
    /// at a time through the unique index, so neither this process nor the database holds more than a row in hand.
    /// </summary>
    public async IAsyncEnumerable<StoredMeasurement> ExportAsync(string? nodeId, long from, long to, [EnumeratorCancellation] CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var db = new DataConnection(_options);
        var node = nodeId ?? await db.ExecuteAsync<string?>(Schema.NodeAtOrAfterSql, ct, new DataParameter("from", "", DataType.NVarChar)).ConfigureAwait(false);
        var connection = db.OpenDbConnection();
        while (node is not null)
        {
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = ExportNodeSql;
                AddParameter(command, "node", node);
                AddParameter(command, "from", from);
                AddParameter(command, "to", to);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) yield return Schema.ReadStored(reader);
            }
            if (nodeId is not null) yield break;
            node = await db.ExecuteAsync<string?>(Schema.NodeAfterSql, ct, new DataParameter("after", node, DataType.NVarChar)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The same rows as <see cref="ExportAsync(string?, long, long, CancellationToken)"/>, handed to <paramref name="row"/>
    /// as the reader positioned on each (columns as <see cref="Schema.SelectColumns"/>) with the node id it was asked
    /// for: no object per row, for exports of millions of rows.
    /// </summary>
    public async Task ExportRowsAsync(string? nodeId, long from, long to, Func<string, DbDataReader, ValueTask> row, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var db = new DataConnection(_options);
        var node = nodeId ?? await db.ExecuteAsync<string?>(Schema.NodeAtOrAfterSql, ct, new DataParameter("from", "", DataType.NVarChar)).ConfigureAwait(false);
        var connection = db.OpenDbConnection();
        var sqlite = Target.Kind == DatabaseKind.Sqlite;
        while (node is not null)
        {
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = ExportNodeSql;
                AddParameter(command, "node", node);
                AddParameter(command, "from", from);
                AddParameter(command, "to", to);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                // SQLite's reader reads synchronously anyway; its ReadAsync only adds a task per row.
                while (sqlite ? reader.Read() : await reader.ReadAsync(ct).ConfigureAwait(false))
                    await row(node, reader).ConfigureAwait(false);
            }
            if (nodeId is not null) return;
            node = await db.ExecuteAsync<string?>(Schema.NodeAfterSql, ct, new DataParameter("after", node, DataType.NVarChar)).ConfigureAwait(false);
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
