using Isems.LineFormat;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Isems.Storage;

/// <summary>Settings every SQLite connection gets, the store's own and linq2db's.</summary>
internal static class SqliteSession
{
    public const int BusyTimeoutMilliseconds = 5000;

    public static void Configure(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        // busy_timeout first, so that switching to WAL waits for a writer of another process instead of failing.
        command.CommandText =
            $"PRAGMA busy_timeout={BusyTimeoutMilliseconds}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
        command.ExecuteNonQuery();
    }

    public static SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Configure(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}

/// <summary>
/// The SQLite write path: one long-lived connection of its own, one transaction per batch, rows bound straight through
/// SQLite's C API (<see cref="SqliteNative"/>) into a prepared <c>INSERT OR IGNORE</c> of <see cref="RowsPerStatement"/>
/// rows. Microsoft.Data.Sqlite's command layer cost as much per row as SQLite's own insert, and one statement per row a
/// third more (the benchmarks' <c>store</c> rows show each step). Each node's newest line goes in a one-row statement
/// of its own, in its place in the order, so its row id is known without a lookup when it is new. Not thread-safe: the
/// store serializes writers.
/// </summary>
internal sealed class SqliteWriter : IDisposable
{
    internal const int RowsPerStatement = 32;
    private const int Fields = 19;

    private readonly string _connectionString;
    private readonly NewestPerNode _newest = new();
    private readonly bool _maintainRollups;
    private readonly RollupAccumulator _rollups = new();
    private readonly HashSet<long> _claimed = [];
    private SqliteCommand _upsertRollup = null!;
    private SqliteCommand _lookupId = null!;
    // The highest row id in the table: rows inserted by a statement get ids above the one before it (the write lock is
    // held, so no other process inserts meanwhile), which tells which lines of a partly duplicate statement were new.
    private long _maxRowId;
    private readonly SqliteNative.TextColumn _nodeId = new(), _revision = new(), _firmware = new();
    private SqliteConnection? _connection;
    private sqlite3 _db = null!;
    private sqlite3_stmt _insertMany = null!;
    private sqlite3_stmt _insertOne = null!;
    // The raw pointers of the handles above, for SqliteNative: valid until Close disposes the handles.
    private IntPtr _dbPointer, _insertManyPointer, _insertOnePointer;
    private SqliteCommand _lookup = null!;
    private SqliteCommand _saveBookmark = null!;
    private SqliteParameter _lookupNode = null!;
    private SqliteParameter _lookupTimestamp = null!;

    /// <summary>
    /// The log is copied back into the database every 16 MiB instead of SQLite's 4 MiB: fewer passes over the same hot
    /// index pages. (A checkpoint on a thread of its own measured slower: the log then outgrew it while the writer
    /// kept appending.)
    /// </summary>
    private const int AutoCheckpointPages = 4000;

    public SqliteWriter(string connectionString, bool maintainRollups = true)
    {
        // Not pooled: a connection that failed mid-transaction must be closed for real, never handed out again.
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
        _maintainRollups = maintainRollups;
    }

    public IReadOnlyList<WriteOutcome> Write(IReadOnlyList<IReadOnlyList<Measurement>> groups, IReadOnlyList<LogBookmark> bookmarks, CancellationToken ct)
    {
        try
        {
            return WriteOnce(groups, bookmarks, ct);
        }
        catch
        {
            _rollups.Clear();
            // Whatever failed (disk full, file locked too long, a broken handle), start over with a fresh connection;
            // closing it rolls back what the batch had written.
            Close();
            throw;
        }
    }

    private IReadOnlyList<WriteOutcome> WriteOnce(IReadOnlyList<IReadOnlyList<Measurement>> groups, IReadOnlyList<LogBookmark> bookmarks, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        EnsureOpen();
        var outcomes = new WriteOutcome[groups.Count];

        Execute("BEGIN IMMEDIATE"); // the write lock up front
        if (_maintainRollups) _maxRowId = MaxRowId();
        for (var g = 0; g < groups.Count; g++)
        {
            ct.ThrowIfCancellationRequested();
            var lines = groups[g];
            if (lines.Count == 0)
            {
                outcomes[g] = new WriteOutcome(0, 0, []);
                continue;
            }
            _newest.Find(lines);
            var marks = _newest.Marks;
            var newest = new StoredMeasurement[_newest.Count];
            var stored = 0;
            var next = 0;
            foreach (var (row, slot) in marks)
            {
                stored += InsertRange(lines, next, row);
                var line = lines[row];
                if (InsertRange(lines, row, row + 1) == 1)
                {
                    stored++;
                    newest[slot] = new StoredMeasurement(raw.sqlite3_last_insert_rowid(_db), line);
                }
                next = row + 1;
            }
            stored += InsertRange(lines, next, lines.Count);

            // A newest line that was a duplicate: the row as it is in the database (also when an earlier group of this
            // batch stored it), with its id.
            for (var slot = 0; slot < newest.Length; slot++)
                newest[slot] ??= Lookup(lines[_newest.RowOf(slot)]);
            outcomes[g] = new WriteOutcome(stored, lines.Count - stored, newest);
        }
        foreach (var bookmark in bookmarks) Save(bookmark);
        if (_maintainRollups) FlushRollups();
        Execute("COMMIT");
        return outcomes;
    }

    private void Save(LogBookmark bookmark)
    {
        var p = _saveBookmark.Parameters;
        p["@node_key"].Value = bookmark.NodeKey;
        p["@log_url"].Value = bookmark.LogUrl;
        p["@node_id"].Value = (object?)bookmark.NodeId ?? DBNull.Value;
        p["@byte_offset"].Value = bookmark.Offset;
        p["@prefix_hash"].Value = (object?)bookmark.PrefixHash ?? DBNull.Value;
        p["@tail_hash"].Value = (object?)bookmark.TailHash ?? DBNull.Value;
        p["@tail_length"].Value = bookmark.TailLength;
        p["@saved_at"].Value = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _saveBookmark.ExecuteNonQuery();
    }

    /// <summary>Inserts lines [from, to) in order; returns how many were new.</summary>
    private int InsertRange(IReadOnlyList<Measurement> lines, int from, int to)
    {
        var inserted = 0;
        var i = from;
        for (; i + RowsPerStatement <= to; i += RowsPerStatement)
        {
            for (var r = 0; r < RowsPerStatement; r++) Bind(_insertManyPointer, r * Fields, lines[i + r]);
            var n = Step(_insertManyPointer);
            if (_maintainRollups) Rolled(lines, i, RowsPerStatement, n);
            inserted += n;
        }
        for (; i < to; i++)
        {
            Bind(_insertOnePointer, 0, lines[i]);
            var n = Step(_insertOnePointer);
            if (_maintainRollups) Rolled(lines, i, 1, n);
            inserted += n;
        }
        return inserted;
    }

    /// <summary>Adds the lines [from, from + count) that one statement inserted (<paramref name="inserted"/> of them) to the rollups.</summary>
    private void Rolled(IReadOnlyList<Measurement> lines, int from, int count, int inserted)
    {
        if (inserted == 0) return;
        if (inserted == count)
        {
            for (var r = 0; r < count; r++) _rollups.Add(lines[from + r]);
        }
        else
        {
            // Some were duplicates: a line was inserted by this statement when its row's id is above the highest id
            // before it (a line repeated within the statement finds the same row: counted once).
            _claimed.Clear();
            for (var r = 0; r < count; r++)
            {
                var line = lines[from + r];
                _lookupId.Parameters[0].Value = line.NodeId;
                _lookupId.Parameters[1].Value = line.Timestamp;
                var id = (long)_lookupId.ExecuteScalar()!;
                if (id > _maxRowId && _claimed.Add(id)) _rollups.Add(line);
            }
        }
        _maxRowId = Math.Max(_maxRowId, raw.sqlite3_last_insert_rowid(_db));
    }

    private long MaxRowId()
    {
        using var command = _connection!.CreateCommand();
        command.CommandText = $"SELECT COALESCE(MAX(id), 0) FROM {Schema.Table}";
        return (long)command.ExecuteScalar()!;
    }

    private void FlushRollups()
    {
        var parameters = _upsertRollup.Parameters;
        foreach (var (key, aggregate) in _rollups.Drain())
        {
            var values = RollupAccumulator.Values(key, aggregate);
            for (var p = 0; p < values.Length; p++) parameters[p].Value = values[p];
            _upsertRollup.ExecuteNonQuery();
        }
    }

    private int Step(IntPtr statement)
    {
        var rc = SqliteNative.Step(statement);
        if (rc != SqliteNative.Done)
        {
            SqliteNative.Reset(statement);
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
        var changes = SqliteNative.Changes(_dbPointer);
        SqliteNative.Reset(statement);
        return changes;
    }

    private StoredMeasurement Lookup(Measurement line)
    {
        _lookupNode.Value = line.NodeId;
        _lookupTimestamp.Value = line.Timestamp;
        using var reader = _lookup.ExecuteReader();
        if (!reader.Read())
            throw new InvalidOperationException($"The row of node '{line.NodeId}' at {line.Timestamp} was neither inserted nor found.");
        return Schema.ReadStored(reader);
    }

    /// <summary>Binds one line's fields in <see cref="Schema.Columns"/> order, from parameter <paramref name="offset"/> + 1.</summary>
    /// <summary>
    /// Binds one line's fields in <see cref="Schema.Columns"/> order, from parameter <paramref name="offset"/> + 1. Bind
    /// errors (an index out of range, out of memory) are left to the step that follows, which reports them.
    /// </summary>
    private void Bind(IntPtr s, int offset, Measurement m)
    {
        _nodeId.Bind(s, offset + 1, m.NodeId);
        _revision.Bind(s, offset + 2, m.IsemsRevision);
        SqliteNative.BindInt64(s, offset + 3, m.Timestamp);
        _firmware.Bind(s, offset + 4, m.OpenMpptFirmwareVersion);
        SqliteNative.BindDouble(s, offset + 5, m.TimeToShutdown);
        SqliteNative.BindInt32(s, offset + 6, m.PowerSaveLevel);
        SqliteNative.BindDouble(s, offset + 7, m.OpenCircuitVoltage);
        SqliteNative.BindDouble(s, offset + 8, m.MppVoltage);
        SqliteNative.BindDouble(s, offset + 9, m.BatteryVoltage);
        SqliteNative.BindDouble(s, offset + 10, m.BatteryChargeEstimate);
        SqliteNative.BindDouble(s, offset + 11, m.BatteryHealthEstimate);
        SqliteNative.BindDouble(s, offset + 12, m.BatteryTemperature);
        SqliteNative.BindDouble(s, offset + 13, m.LowVoltageDisconnectVoltage);
        SqliteNative.BindDouble(s, offset + 14, m.TemperatureCorrectedVoltage);
        SqliteNative.BindDouble(s, offset + 15, m.RateBatteryCapacity);
        SqliteNative.BindDouble(s, offset + 16, m.RatedSolarModuleCapacity);
        SqliteNative.BindDouble(s, offset + 17, m.Latitude);
        SqliteNative.BindDouble(s, offset + 18, m.Longitude);
        if (m.Status is { } status) SqliteNative.BindInt32(s, offset + 19, status);
        else SqliteNative.BindNull(s, offset + 19);
    }

    private void Execute(string sql)
    {
        var rc = raw.sqlite3_exec(_db, sql);
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    private void EnsureOpen()
    {
        if (_connection is not null) return;
        var connection = SqliteSession.Open(_connectionString);
        try
        {
            _db = connection.Handle!;
            Execute($"PRAGMA wal_autocheckpoint={AutoCheckpointPages}");
            _insertMany = Prepare(RowsPerStatement);
            _insertOne = Prepare(1);
            _dbPointer = _db.DangerousGetHandle();
            _insertManyPointer = _insertMany.DangerousGetHandle();
            _insertOnePointer = _insertOne.DangerousGetHandle();
            _lookup = connection.CreateCommand();
            _lookup.CommandText = $"SELECT {Schema.SelectColumns} FROM {Schema.Table} WHERE node_id = $node AND timestamp = $ts";
            _lookupNode = _lookup.Parameters.Add(new SqliteParameter { ParameterName = "$node", Value = "" });
            _lookupTimestamp = _lookup.Parameters.Add(new SqliteParameter { ParameterName = "$ts", Value = 0L });
            _lookup.Prepare();
            _saveBookmark = connection.CreateCommand();
            _saveBookmark.CommandText = Schema.SaveBookmarkSql;
            foreach (var name in new[] { "node_key", "log_url", "node_id", "byte_offset", "prefix_hash", "tail_hash", "tail_length", "saved_at" })
                _saveBookmark.Parameters.Add(new SqliteParameter { ParameterName = "@" + name, Value = DBNull.Value });
            _saveBookmark.Prepare();
            _lookupId = connection.CreateCommand();
            _lookupId.CommandText = $"SELECT id FROM {Schema.Table} WHERE node_id = $node AND timestamp = $ts";
            _lookupId.Parameters.Add(new SqliteParameter { ParameterName = "$node", Value = "" });
            _lookupId.Parameters.Add(new SqliteParameter { ParameterName = "$ts", Value = 0L });
            _lookupId.Prepare();
            _upsertRollup = connection.CreateCommand();
            _upsertRollup.CommandText = Rollups.UpsertSql(DatabaseKind.Sqlite, name => "$" + name);
            foreach (var name in Rollups.ParameterNames())
                _upsertRollup.Parameters.Add(new SqliteParameter { ParameterName = "$" + name, Value = 0L });
            _upsertRollup.Prepare();
            _connection = connection;
        }
        catch
        {
            _insertMany?.Dispose();
            _insertOne?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    private sqlite3_stmt Prepare(int rows)
    {
        var row = "(" + string.Join(", ", Enumerable.Repeat("?", Fields)) + ")";
        var sql = $"INSERT OR IGNORE INTO {Schema.Table} ({Schema.Columns}) VALUES {string.Join(", ", Enumerable.Repeat(row, rows))}";
        var rc = raw.sqlite3_prepare_v2(_db, sql, out var statement);
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
        return statement;
    }

    private void Close()
    {
        if (_connection is null) return;
        _insertMany.Dispose();
        _insertOne.Dispose();
        _lookup.Dispose();
        _saveBookmark.Dispose();
        _lookupId.Dispose();
        _upsertRollup.Dispose();
        _connection.Dispose();
        _connection = null;
    }

    public void Dispose() => Close();
}
