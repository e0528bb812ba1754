using System.Runtime.InteropServices;

namespace Isems.Storage;

/// <summary>
/// The few SQLite C functions that the write path calls once per field of every row, and the read path (history
/// rollups, exports) once per column of every row, bound directly to the library that SQLitePCL loads
/// (<c>e_sqlite3</c>). Through SQLitePCL each call takes and releases a SafeHandle; at 19 fields a row that was a fifth
/// of the writer's time (the <c>store</c> benchmark's C API rows), and Microsoft.Data.Sqlite's reader bound the history
/// and export reads the same way. Callers hold the SafeHandles open for as long as they use the raw pointers.
/// </summary>
internal static partial class SqliteNative
{
    private const string Library = "e_sqlite3";
    public const int Row = 100; // SQLITE_ROW
    public const int Done = 101; // SQLITE_DONE
    public const int Null = 5; // SQLITE_NULL
    public static readonly IntPtr Transient = new(-1); // SQLITE_TRANSIENT: SQLite copies the bytes before returning

    [LibraryImport(Library, EntryPoint = "sqlite3_bind_int")]
    public static partial int BindInt32(IntPtr statement, int index, int value);

    [LibraryImport(Library, EntryPoint = "sqlite3_bind_int64")]
    public static partial int BindInt64(IntPtr statement, int index, long value);

    [LibraryImport(Library, EntryPoint = "sqlite3_bind_double")]
    public static partial int BindDouble(IntPtr statement, int index, double value);

    [LibraryImport(Library, EntryPoint = "sqlite3_bind_null")]
    public static partial int BindNull(IntPtr statement, int index);

    [LibraryImport(Library, EntryPoint = "sqlite3_bind_text")]
    public static partial int BindText(IntPtr statement, int index, ReadOnlySpan<byte> utf8, int length, IntPtr destructor);

    [LibraryImport(Library, EntryPoint = "sqlite3_step")]
    public static partial int Step(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_reset")]
    public static partial int Reset(IntPtr statement);

    // The column getters only read the current row (taking the connection's mutex, which no other thread holds: a
    // statement is used by one reader at a time), so they are short enough to run without the GC transition. Reading
    // 20 columns a row cost as much as SQLite's stepping (the history benchmark's "of which" rows).
    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_int64")]
    public static partial long ColumnInt64(IntPtr statement, int column);

    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_int")]
    public static partial int ColumnInt32(IntPtr statement, int column);

    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_double")]
    public static partial double ColumnDouble(IntPtr statement, int column);

    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_type")]
    public static partial int ColumnType(IntPtr statement, int column);

    /// <summary>The column's UTF-8 text, valid until the next step or reset (then <see cref="ColumnBytes"/>).</summary>
    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_text")]
    public static partial IntPtr ColumnText(IntPtr statement, int column);

    [SuppressGCTransition]
    [LibraryImport(Library, EntryPoint = "sqlite3_column_bytes")]
    public static partial int ColumnBytes(IntPtr statement, int column);

    [LibraryImport(Library, EntryPoint = "sqlite3_changes")]
    public static partial int Changes(IntPtr db);

    /// <summary>
    /// A text column's last value, kept encoded: consecutive lines of a node share their node id, revision and firmware
    /// as one string instance each (the parser reuses them), so most rows bind bytes already encoded.
    /// </summary>
    public sealed class TextColumn
    {
        private string? _value;
        private byte[] _utf8 = [];
        private int _length;

        public int Bind(IntPtr statement, int index, string value)
        {
            if (!ReferenceEquals(value, _value))
            {
                var max = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
                if (_utf8.Length < max) _utf8 = new byte[Math.Max(max, 64)];
                _length = System.Text.Encoding.UTF8.GetBytes(value, _utf8);
                _value = value;
            }
            return BindText(statement, index, _utf8, _length, Transient);
        }
    }
}
