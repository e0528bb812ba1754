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
public sealed class MeasurementStore : IDisposable
{
    private const long MigrationLockKey = 0x4953_454D_535F_4442; // "ISEMS_DB": PostgreSQL advisory lock held while migrating

    private readonly DataOptions _options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly SqliteWriter? _sqlite;
    private readonly PostgresWriter? _postgres;
    private readonly string _latestPerNodeSql;
    private bool _disposed;

    public MeasurementStore(DatabaseTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        Target = target;
        _latestPerNodeSql = Schema.LatestPerNodeSql(target.Kind);
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
            _sqlite = new SqliteWriter(target.ConnectionString);
        }
        else
        {
            _options = new DataOptions().UsePostgreSQL(target.ConnectionString, PostgreSQLVersion.v95);
            _postgres = new PostgresWriter(target.ConnectionString);
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
    public async Task<IReadOnlyList<WriteOutcome>> WriteAsync(IReadOnlyList<IReadOnlyList<Measurement>> groups, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // SQLite's driver works synchronously; the writer actor already calls this from the thread pool.
            return _sqlite is not null
                ? _sqlite.Write(groups, ct)
                : await _postgres!.WriteAsync(groups, ct).ConfigureAwait(false);
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

    /// <summary>That node's newest <paramref name="limit"/> rows, newest first; none for an unknown node.</summary>
    public async Task<IReadOnlyList<StoredMeasurement>> HistoryAsync(string nodeId, int limit, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (limit == 0) return [];
        var rows = await RunAsync(db => HistoryQuery(db, nodeId, limit).ToListAsync(ct), ct).ConfigureAwait(false);
        return rows.ConvertAll(static r => r.ToStored());
    }

    /// <summary>Removes every row of the node; returns how many.</summary>
    public async Task<int> DeleteNodeAsync(string nodeId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(db => db.GetTable<MeasurementRow>().Where(r => r.NodeId == nodeId).DeleteAsync(ct), ct).ConfigureAwait(false);
    }

    /// <summary>Answers when the database does: for readiness checks while nothing is being written.</summary>
    public async Task PingAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await RunAsync(db => db.ExecuteAsync("SELECT 1", ct), ct).ConfigureAwait(false);
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

    private static IQueryable<MeasurementRow> HistoryQuery(IDataContext db, string nodeId, int limit) =>
        db.GetTable<MeasurementRow>().Where(r => r.NodeId == nodeId).OrderByDescending(r => r.Timestamp).Take(limit);

    /// <summary>The plan of a read query, for tests: SQLite's EXPLAIN QUERY PLAN details or PostgreSQL's EXPLAIN lines.</summary>
    internal async Task<IReadOnlyList<string>> ExplainAsync(bool latestPerNode, string nodeId = "", int limit = 1)
    {
        await using var db = new DataConnection(_options);
        var sql = latestPerNode
            ? _latestPerNodeSql
            : HistoryQuery(db, nodeId, limit).ToSqlQuery(new SqlGenerationOptions { InlineParameters = true }).Sql;
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
