using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Isems.Storage;

/// <summary>
/// The store's own SQLite connections for the history and export reads, opened in SQLite's multi-thread mode
/// (<c>SQLITE_OPEN_NOMUTEX</c>) and kept with their prepared statements. Through Microsoft.Data.Sqlite a connection is
/// serialized: every <c>sqlite3_column_*</c> call enters and leaves the connection's recursive mutex, which cost more
/// than reading the value (a year at 1 h reads 262,800 columns, a year's export 10.5 M). Without the mutex a connection
/// must never be used by two threads at once: each is rented by one reader and given back when it is done.
/// </summary>
internal sealed class SqliteReadConnections(string connectionString) : IDisposable
{
    private const int Kept = 4;
    private readonly string _path = new SqliteConnectionStringBuilder(connectionString).DataSource;
    private readonly ConcurrentBag<SqliteReadConnection> _idle = new();
    private volatile bool _disposed;

    /// <summary>An idle connection, or a new one; give it back with <see cref="Return"/> (or dispose it).</summary>
    public SqliteReadConnection Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _idle.TryTake(out var connection) ? connection : new SqliteReadConnection(_path);
    }

    /// <summary>Takes a connection back: its statements reset (a reader that stopped early leaves one mid-way).</summary>
    public void Return(SqliteReadConnection connection)
    {
        connection.ResetAll();
        if (_disposed || _idle.Count >= Kept) connection.Dispose();
        else _idle.Add(connection);
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var connection)) connection.Dispose();
    }
}

/// <summary>One read connection of <see cref="SqliteReadConnections"/> and its prepared statements, by SQL text.</summary>
internal sealed class SqliteReadConnection : IDisposable
{
    private readonly sqlite3 _db;
    private readonly Dictionary<string, SqliteStatement> _statements = new();

    public SqliteReadConnection(string path)
    {
        // Read-write, as the WAL's shared memory needs; only SELECTs run here. No mutex: one user at a time.
        var rc = raw.sqlite3_open_v2(path, out var db, raw.SQLITE_OPEN_READWRITE | raw.SQLITE_OPEN_NOMUTEX, null);
        if (rc != raw.SQLITE_OK)
        {
            db?.Dispose();
            SqliteException.ThrowExceptionForRC(rc, null);
        }
        _db = db!;
        raw.sqlite3_busy_timeout(_db, SqliteSession.BusyTimeoutMilliseconds);
        // The database file's pages read through a memory map instead of a read() and a copy each into the
        // connection's 2 MiB page cache: a year's hourly rollups are 2.7 MiB of pages, its export 70 MiB, and every
        // request read them again. The collector never shrinks the file (no VACUUM), which a map would not survive.
        rc = raw.sqlite3_exec(_db, "PRAGMA mmap_size=268435456");
        if (rc != raw.SQLITE_OK)
        {
            _db.Dispose();
            SqliteException.ThrowExceptionForRC(rc, null);
        }
    }

    /// <summary>The statement of this SQL, prepared once per connection; reset it before giving the connection back.</summary>
    public SqliteStatement Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
            _statements[sql] = statement = new SqliteStatement(_db, sql);
        return statement;
    }

    internal void ResetAll()
    {
        foreach (var statement in _statements.Values) statement.Reset();
    }

    public void Dispose()
    {
        foreach (var statement in _statements.Values) statement.Dispose();
        _statements.Clear();
        _db.Dispose();
    }
}
