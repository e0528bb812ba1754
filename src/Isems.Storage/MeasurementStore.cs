using System.Data.Common;
using System.Globalization;
using Isems.LineFormat;
using LinqToDB;
using LinqToDB.Async;
using LinqToDB.Data;
using LinqToDB.DataProvider.PostgreSQL;
using LinqToDB.DataProvider.SQLite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Isems.Storage;

/// <summary>A stored measurement with its row id (stable for the life of the row).</summary>
public sealed record StoredMeasurement(long Id, Measurement Measurement);

/// <summary>
/// How far into a polled node's log its lines have been read: the byte after the last complete line, a hash of the bytes
/// before it when the log was last read whole, and a hash of the last line read (with its length), by which a resumed
/// fetch recognises that it is still the same log. Saved in the same transaction as the lines it led to.
/// <paramref name="NodeId"/> is the id the log's lines carry, so that after a start a node configured by its address is
/// one actor with the node its stored rows name.
/// </summary>
public sealed record LogBookmark(string NodeKey, string LogUrl, long Offset, byte[]? PrefixHash, byte[]? TailHash, int TailLength, string? NodeId = null);

/// <summary>
/// What became of one group of lines written in a batch: how many were new, how many were already stored (or repeated
/// earlier in the batch), and for each node id of the group its newest line (highest timestamp) as it now is in the
/// database, with its row id, whether stored now or before. Newest follows the order in which the nodes first appear.
/// </summary>
public sealed record WriteOutcome(int Stored, int Duplicates, IReadOnlyList<StoredMeasurement> Newest);

/// <summary>
/// The measurements table (SPEC §5) in SQLite or PostgreSQL. One row per (node id, timestamp): writes insert and ignore
/// duplicates. Writes are meant to come from one writer at a time (they are serialized here anyway); reads run on their
/// own pooled connections and never wait for the writer. Exceptions propagate: the caller retries.
/// </summary>
public sealed partial class MeasurementStore : IDisposable
{
    private const long MigrationLockKey = 0x4953_454D_535F_4442; // "ISEMS_DB": PostgreSQL advisory lock held while migrating

    private readonly DataOptions _options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly SqliteWriter? _sqlite;
    private readonly SqliteReadConnections? _sqliteReads;
    private readonly PostgresWriter? _postgres;
    private readonly string _latestPerNodeSql;
    private readonly string _raiseHorizonSql;
    private readonly ResumePoint _ageResume = new(), _trimResume = new(); // where each retention walk goes on
    private bool _disposed;

    /// <param name="maintainRollups">false only to measure what the rollups cost the write path (benchmarks).</param>
    public MeasurementStore(DatabaseTarget target, bool maintainRollups = true)
        : this(target, maintainRollups, PostgresWriteOptions.Default)
    {
    }

    /// <param name="postgres">How PostgreSQL writes are sent (benchmarks measure the paths against each other).</param>
    internal MeasurementStore(DatabaseTarget target, bool maintainRollups, PostgresWriteOptions postgres)
    {
        ArgumentNullException.ThrowIfNull(target);
        Target = target;
        _latestPerNodeSql = Schema.LatestPerNodeSql(target.Kind);
        _raiseHorizonSql = Rollups.RaiseHorizonSql(target.Kind);
        if (target.Kind == DatabaseKind.Sqlite)
        {
            var file = new SqliteConnectionStringBuilder(target.ConnectionString).DataSource;
            var folder = Path.GetDirectoryName(Path.GetFullPath(file));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            _options = new DataOptions()
                .UseSQLite(target.ConnectionString, SQLiteProvider.Microsoft)
                .UseAfterConnectionOpened(
                    connection => SqliteSession.Configure((SqliteConnection)connection),
                    (connection, _) =>
                    {
                        SqliteSession.Configure((SqliteConnection)connection);
                        return Task.CompletedTask;
                    });
            _sqlite = new SqliteWriter(target.ConnectionString, maintainRollups);
            _sqliteReads = new SqliteReadConnections(target.ConnectionString);
        }
        else
        {
            _options = new DataOptions().UsePostgreSQL(target.ConnectionString, PostgreSQLVersion.v95);
            _postgres = new PostgresWriter(target.ConnectionString, maintainRollups, postgres);
        }
    }

    public DatabaseTarget Target { get; }

    /// <summary>
    /// Creates or upgrades the schema: applies the missing migration steps in one transaction. Idempotent, and safe when
    /// two processes start at once (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock).
    /// </summary>
    public void Migrate()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Target.Kind == DatabaseKind.Sqlite)
        {
            using var connection = SqliteSession.Open(Target.ConnectionString);
            using var transaction = connection.BeginTransaction(deferred: false);
            Schema.Migrate(connection, transaction, Target.Kind);
            transaction.Commit();
        }
        else
        {
            using var connection = new NpgsqlConnection(Target.ConnectionString);
            connection.Open();
            using var transaction = connection.BeginTransaction();
            using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({MigrationLockKey})", connection, transaction))
                lockCommand.ExecuteNonQuery();
            Schema.Migrate(connection, transaction, Target.Kind);
            transaction.Commit();
        }
    }

    /// <summary>
    /// Writes all groups in one transaction, inserting and ignoring duplicates on (node id, timestamp), also duplicates
    /// within the batch (the first occurrence in batch order is the one stored). One outcome per group, in order.
    /// </summary>
    public Task<IReadOnlyList<WriteOutcome>> WriteAsync(IReadOnlyList<IReadOnlyList<Measurement>> groups, CancellationToken ct = default) =>
        WriteAsync(groups, [], ct);

    /// <summary>
    /// Writes the groups, and saves the bookmarks in the same transaction, in order (a later bookmark of the same node
    /// wins): a log is never marked read beyond lines that are not stored.
    /// </summary>
    public async Task<IReadOnlyList<WriteOutcome>> WriteAsync(
        IReadOnlyList<IReadOnlyList<Measurement>> groups, IReadOnlyList<LogBookmark> bookmarks, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(bookmarks);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // SQLite's driver works synchronously; the writer actor already calls this from the thread pool.
            return _sqlite is not null
                ? _sqlite.Write(groups, bookmarks, ct)
                : await _postgres!.WriteAsync(groups, bookmarks, ct).ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>The newest row of every node, ordered by node id (ordinal).</summary>
    public async Task<IReadOnlyList<StoredMeasurement>> LatestPerNodeAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var rows = await RunAsync(db => db.QueryToListAsync<MeasurementRow>(_latestPerNodeSql, ct), ct).ConfigureAwait(false);
        var result = new StoredMeasurement[rows.Count];
        for (var i = 0; i < result.Length; i++) result[i] = rows[i].ToStored();
        // Sorted here rather than in SQL: exactly .NET's ordinal order, and no sort step in the query plan.
        Array.Sort(result, static (a, b) => string.CompareOrdinal(a.Measurement.NodeId, b.Measurement.NodeId));
        return result;
    }

    /// <summary>Every saved log bookmark, for the node actors to resume from after a start.</summary>
    public async Task<IReadOnlyList<LogBookmark>> BookmarksAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = Schema.BookmarksSql;
            return await ReadBookmarksAsync(command, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// One node's bookmarks, for a node actor started after start-up: the one saved under <paramref name="nodeKey"/>,
    /// and those saved under an address whose lines carry that id (the node was read there before it moved to its id).
    /// </summary>
    public async Task<IReadOnlyList<LogBookmark>> BookmarksOfAsync(string nodeKey, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = Schema.BookmarksSql + " WHERE node_key = @key OR node_id = @key";
            AddParameter(command, "key", nodeKey);
            return await ReadBookmarksAsync(command, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<LogBookmark>> ReadBookmarksAsync(DbCommand command, CancellationToken ct)
    {
        var bookmarks = new List<LogBookmark>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
            bookmarks.Add(new LogBookmark(reader.GetString(0), reader.GetString(1), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : (byte[])reader.GetValue(4), reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5),
                reader.GetInt32(6), reader.IsDBNull(2) ? null : reader.GetString(2)));
        return bookmarks;
    }

    /// <summary>That node's newest <paramref name="limit"/> rows, newest first; none for an unknown node.</summary>
    public async Task<IReadOnlyList<StoredMeasurement>> HistoryAsync(string nodeId, int limit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (limit == 0) return [];
        // A plain command and reader: the endpoint that serves this is the isems-app's chart, asked often, and the
        // query layer's mapping cost more than the query itself (7 ms of 8 for 1,440 rows).
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = Schema.HistorySql;
            AddParameter(command, "node", nodeId);
            AddParameter(command, "limit", limit);
            var rows = new List<StoredMeasurement>(Math.Min(limit, 4096));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) rows.Add(Schema.ReadStored(reader));
            return (IReadOnlyList<StoredMeasurement>)rows;
        }, ct).ConfigureAwait(false);
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <summary>
    /// Removes every row of the node, and the bookmark of the node key that polled it (re-added, its log is read whole
    /// again); returns how many rows.
    /// </summary>
    public async Task<int> DeleteNodeAsync(string nodeId, string? nodeKey = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            await using var transaction = await db.BeginTransactionAsync(ct).ConfigureAwait(false);
            var rows = await db.GetTable<MeasurementRow>().Where(r => r.NodeId == nodeId).DeleteAsync(ct).ConfigureAwait(false);
            // A purged node's summaries go with its rows: nothing of it is left to answer from.
            await db.ExecuteAsync($"DELETE FROM {Rollups.Table} WHERE node_id = @node", ct, new DataParameter("node", nodeId, DataType.NVarChar)).ConfigureAwait(false);
            await db.ExecuteAsync($"DELETE FROM {Rollups.HorizonTable} WHERE node_id = @node", ct, new DataParameter("node", nodeId, DataType.NVarChar)).ConfigureAwait(false);
            if (nodeKey is not null)
                await db.ExecuteAsync($"DELETE FROM {Schema.BookmarkTable} WHERE node_key = @key", ct, new DataParameter("key", nodeKey)).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return rows;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Answers when the database does: for readiness checks while nothing is being written.</summary>
    public async Task PingAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await RunAsync(db => db.ExecuteAsync("SELECT 1", ct), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes rows with a timestamp before <paramref name="cutoffUnixSeconds"/>, oldest first, at most
    /// <paramref name="batchSize"/> of them in one short transaction; returns how many. Call again, with pauses between,
    /// until it returns 0, which it does only after looking at every node: the database's write lock is never held
    /// longer than one batch. It walks the nodes through the unique (node, timestamp) index: an index on timestamp
    /// alone would serve this better, but it made the first poll of a fleet 2.5 times slower (68 s instead of 27 s for
    /// 1,000 full router logs), because lines of many nodes arrive with interleaved timestamps.
    /// </summary>
    public Task<int> DeleteOlderThanAsync(long cutoffUnixSeconds, int batchSize, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteByNodeAsync((_, _) => Task.FromResult<long?>(cutoffUnixSeconds - 1), batchSize, _ageResume, ct);
    }

    /// <summary>
    /// Deletes the rows of each node beyond its newest <paramref name="keepNewestPerNode"/> (by timestamp), oldest first,
    /// at most <paramref name="batchSize"/> rows in one short transaction; returns how many. Call again until it returns
    /// 0, which it does only after looking at every node. Finding what to delete only reads (one index seek per node and
    /// a walk over the rows it keeps), outside the transaction; calls go on from the node where the last one stopped.
    /// Meant for one caller at a time (the retention job): concurrent calls stay correct but may repeat each other's reads.
    /// </summary>
    public Task<int> TrimPerNodeAsync(int keepNewestPerNode, int batchSize, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepNewestPerNode, 1); // 0 would empty the table: surely a mistake
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteByNodeAsync((db, node) => db.ExecuteAsync<long?>(Schema.FirstToTrimSql, ct,
            new DataParameter("node", node, DataType.NVarChar), new DataParameter("keep", keepNewestPerNode, DataType.Int32)),
            batchSize, _trimResume, ct);
    }

    /// <summary>
    /// Plans (reads only, outside any transaction) which rows of which nodes go, each node's through the timestamp
    /// <paramref name="throughOf"/> gives (null: none), at most <paramref name="batchSize"/> rows, going on from where the
    /// last call stopped; then deletes them in one short transaction through the write gate.
    /// </summary>
    private async Task<int> DeleteByNodeAsync(
        Func<DataConnection, string, Task<long?>> throughOf, int batchSize, ResumePoint resume, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (plan, next) = await RunAsync(db => PlanDeletionAsync(db, throughOf, batchSize, resume.Node, ct), ct).ConfigureAwait(false);
        var deleted = 0;
        if (plan.Count > 0)
        {
            // Through the write gate: in this process the writer and the retention take turns, instead of one of them
            // waiting in SQLite's busy handler.
            await _writeGate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                // Rows that arrived since the plan are newer and only add to what each node keeps; rows deleted since are
                // simply not there: deleting at most the planned count of rows at or before each node's mark stays right.
                deleted = await RunAsync(async db =>
                {
                    await using var transaction = await db.BeginTransactionAsync(ct).ConfigureAwait(false);
                    var count = 0;
                    foreach (var (node, through, limit) in plan)
                    {
                        count += await db.ExecuteAsync(Schema.TrimNodeSql, ct, new DataParameter("node", node, DataType.NVarChar),
                            new DataParameter("through", through, DataType.Int64), new DataParameter("limit", limit, DataType.Int32)).ConfigureAwait(false);
                        // The rollups keep what the deleted rows said; history before the horizon is answered from them.
                        await db.ExecuteAsync(_raiseHorizonSql, ct, new DataParameter("node", node, DataType.NVarChar),
                            new DataParameter("through", through, DataType.Int64)).ConfigureAwait(false);
                    }
                    await transaction.CommitAsync(ct).ConfigureAwait(false);
                    return count;
                }, ct).ConfigureAwait(false);
            }
            finally
            {
                _writeGate.Release();
            }
        }
        resume.Node = next;
        return deleted;
    }

    /// <summary>
    /// Walks the node ids from <paramref name="resumeAt"/> round to it again and collects, per node with rows to delete,
    /// the timestamp through which they go and how many of them fit into the batch. Returns where the next call goes on:
    /// the node where the batch filled up (it may have more), or null after a whole round.
    /// </summary>
    private static async Task<(List<(string Node, long Through, int Limit)> Plan, string? ResumeAt)> PlanDeletionAsync(
        DataConnection db, Func<DataConnection, string, Task<long?>> throughOf, int batchSize, string? resumeAt, CancellationToken ct)
    {
        var plan = new List<(string, long, int)>();
        var budget = batchSize;
        var wrapped = resumeAt is null;
        var node = await db.ExecuteAsync<string?>(Schema.NodeAtOrAfterSql, ct, new DataParameter("from", resumeAt ?? "", DataType.NVarChar)).ConfigureAwait(false);
        while (true)
        {
            if (node is null)
            {
                if (wrapped) return (plan, null);
                wrapped = true;
                node = await db.ExecuteAsync<string?>(Schema.NodeAtOrAfterSql, ct, new DataParameter("from", "", DataType.NVarChar)).ConfigureAwait(false);
                continue;
            }
            if (wrapped && resumeAt is not null && string.CompareOrdinal(node, resumeAt) >= 0) return (plan, null);

            if (await throughOf(db, node).ConfigureAwait(false) is { } mark)
            {
                var count = (int)await db.ExecuteAsync<long>(Schema.CountToTrimSql, ct, new DataParameter("node", node, DataType.NVarChar),
                    new DataParameter("through", mark, DataType.Int64), new DataParameter("limit", budget, DataType.Int32)).ConfigureAwait(false);
                if (count > 0)
                {
                    plan.Add((node, mark, count));
                    budget -= count;
                    if (budget == 0) return (plan, node);
                }
            }
            node = await db.ExecuteAsync<string?>(Schema.NodeAfterSql, ct, new DataParameter("after", node, DataType.NVarChar)).ConfigureAwait(false);
        }
    }

    /// <summary>Where a walk over the nodes goes on: the node where the last batch filled up, or null for the first node.</summary>
    private sealed class ResumePoint
    {
        public string? Node;
    }

    public async Task<long> CountAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(db => db.GetTable<MeasurementRow>().LongCountAsync(ct), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a query on a connection of its own. On PostgreSQL, a pooled connection that the server dropped (it
    /// restarted) fails the first command: then the pool is cleared and the query runs once more. (Deleting a node's
    /// rows is idempotent, so it may take this path too.)
    /// </summary>
    private async Task<T> RunAsync<T>(Func<DataConnection, Task<T>> query, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                await using var db = new DataConnection(_options);
                return await query(db).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt == 1 && Target.Kind == DatabaseKind.PostgreSql && PostgresConnections.IsBroken(e))
            {
                PostgresConnections.ClearPool(Target.ConnectionString);
            }
        }
    }


    /// <summary>The plan of a read query, for tests: SQLite's EXPLAIN QUERY PLAN details or PostgreSQL's EXPLAIN lines.</summary>
    internal async Task<IReadOnlyList<string>> ExplainAsync(bool latestPerNode, string nodeId = "", int limit = 1)
    {
        await using var db = new DataConnection(_options);
        var sql = latestPerNode
            ? _latestPerNodeSql
            : Schema.HistorySql.Replace("@node", $"'{nodeId.Replace("'", "''")}'").Replace("@limit", limit.ToString(CultureInfo.InvariantCulture));
        return await ExplainAsync(sql);
    }

    /// <summary>The plan of any statement (parameters inlined), for tests. PostgreSQL only plans it: nothing is deleted.</summary>
    internal async Task<IReadOnlyList<string>> ExplainAsync(string sql)
    {
        await using var db = new DataConnection(_options);
        var explain = (Target.Kind == DatabaseKind.Sqlite ? "EXPLAIN QUERY PLAN " : "EXPLAIN ") + sql;
        await using var command = db.OpenDbConnection().CreateCommand();
        command.CommandText = explain;
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add(reader.GetString(Target.Kind == DatabaseKind.Sqlite ? 3 : 0));
        return lines;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _writeGate.Wait();
        try
        {
            _sqlite?.Dispose();
            _sqliteReads?.Dispose();
            _postgres?.Dispose();
        }
        finally
        {
            _writeGate.Release();
        }
        // Close the idle pooled connections to this database, so the file can go (SQLite) and the server's connection
        // slots are freed (PostgreSQL).
        if (Target.Kind == DatabaseKind.Sqlite)
        {
            using var connection = new SqliteConnection(Target.ConnectionString);
            SqliteConnection.ClearPool(connection);
        }
        else
        {
            PostgresConnections.ClearPool(Target.ConnectionString);
        }
        _writeGate.Dispose();
    }
}
