using System.Buffers;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Isems.Storage;

/// <summary>
/// A read statement prepared on an open connection and stepped through <see cref="SqliteNative"/>: the history
/// rollups and the exports read 20–30 columns a row, and Microsoft.Data.Sqlite's reader (a SafeHandle taken and
/// released per column, a string per text column) cost more than SQLite's own stepping. Parameters are bound by
/// position (SQLite numbers <c>@name</c>s in the order they first appear). Not thread-safe; the connection must stay
/// open until it is disposed.
/// </summary>
internal sealed unsafe class SqliteStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly IntPtr _pointer;

    public SqliteStatement(SqliteConnection connection, string sql) : this(connection.Handle!, sql)
    {
    }

    public SqliteStatement(sqlite3 db, string sql)
    {
        _db = db;
        var rc = raw.sqlite3_prepare_v2(_db, sql, out var statement);
        if (rc != raw.SQLITE_OK)
        {
            ((IDisposable?)statement)?.Dispose();
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
        ArgumentNullException.ThrowIfNull(statement); // an empty statement: never one of the store's
        _statement = statement;
        _pointer = statement.DangerousGetHandle();
    }

    public void Bind(int index, long value) => Check(SqliteNative.BindInt64(_pointer, index, value));

    public void Bind(int index, double value) => Check(SqliteNative.BindDouble(_pointer, index, value));

    public void Bind(int index, string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        try
        {
            Span<byte> utf8 = rented ?? stackalloc byte[512];
            var length = Encoding.UTF8.GetBytes(value, utf8);
            // SQLITE_TRANSIENT: SQLite copies the bytes before returning.
            Check(SqliteNative.BindText(_pointer, index, utf8, length, SqliteNative.Transient));
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Steps to the next row: false at the end (then <see cref="Reset"/> before binding again).</summary>
    public bool Step()
    {
        var rc = SqliteNative.Step(_pointer);
        if (rc == SqliteNative.Row) return true;
        if (rc == SqliteNative.Done) return false;
        SqliteNative.Reset(_pointer);
        SqliteException.ThrowExceptionForRC(rc, _db);
        return false;
    }

    public void Reset() => SqliteNative.Reset(_pointer);

    public long Int64(int column) => SqliteNative.ColumnInt64(_pointer, column);

    /// <summary>The column as an int; 0 for NULL (as SQLite converts it).</summary>
    public int Int32(int column) => SqliteNative.ColumnInt32(_pointer, column);

    public double Double(int column) => SqliteNative.ColumnDouble(_pointer, column);

    public bool IsNull(int column) => SqliteNative.ColumnType(_pointer, column) == SqliteNative.Null;

    /// <summary>The column's UTF-8 text, valid until the next <see cref="Step"/> or <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> Text(int column)
    {
        var text = SqliteNative.ColumnText(_pointer, column); // first, then its length (SQLite's documented order)
        return text == IntPtr.Zero ? default : new ReadOnlySpan<byte>((void*)text, SqliteNative.ColumnBytes(_pointer, column));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Dispose() => _statement.Dispose();
}

/// <summary>The columns of the row a reader stands on, as the history's bucket merge reads them.</summary>
internal interface IRowColumns
{
    long Int64(int column);

    /// <summary>The column as an int; 0 for NULL.</summary>
    int Int32(int column);

    double Double(int column);
}

/// <summary>SQLite's row, read through its C API.</summary>
internal readonly struct SqliteColumns(SqliteStatement statement) : IRowColumns
{
    public long Int64(int column) => statement.Int64(column);
    public int Int32(int column) => statement.Int32(column);
    public double Double(int column) => statement.Double(column);
}

/// <summary>Any other database's row (PostgreSQL), through its ADO.NET reader.</summary>
internal readonly struct ReaderColumns(System.Data.Common.DbDataReader reader) : IRowColumns
{
    public long Int64(int column) => reader.GetInt64(column);
    public int Int32(int column) => reader.IsDBNull(column) ? 0 : reader.GetInt32(column);
    public double Double(int column) => reader.GetDouble(column);
}
