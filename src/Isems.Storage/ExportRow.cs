using System.Data.Common;
using System.Text;
using Isems.LineFormat;

namespace Isems.Storage;

/// <summary>
/// One row of an export as the store reads it (columns as <see cref="Schema.SelectColumns"/>), valid only until the
/// next row is read: an export of millions of rows makes no object per row, and on SQLite its text columns are the
/// database's own UTF-8 bytes.
/// </summary>
public abstract class ExportRow
{
    /// <summary>The columns of the numbers: time to shutdown, then open circuit voltage … longitude.</summary>
    public const int TimeToShutdownColumn = 5, FirstNumberColumn = 7, LastNumberColumn = 18;

    /// <summary>The node id the rows were asked for (the row's own).</summary>
    public string NodeId { get; internal set; } = "";

    public abstract long Id { get; }
    public abstract long Timestamp { get; }
    public abstract int PowerSaveLevel { get; }
    public abstract int? Status { get; }

    /// <summary>The isems revision, UTF-8, valid until the next row.</summary>
    public abstract ReadOnlySpan<byte> Revision { get; }

    /// <summary>The firmware version, UTF-8, valid until the next row.</summary>
    public abstract ReadOnlySpan<byte> Firmware { get; }

    /// <summary>A number column: <see cref="TimeToShutdownColumn"/>, or <see cref="FirstNumberColumn"/> … <see cref="LastNumberColumn"/>.</summary>
    public abstract double Number(int column);

    /// <summary>The row as an object of its own (for callers that keep rows).</summary>
    public abstract StoredMeasurement ToStored();
}

/// <summary>A row of SQLite's read straight from the statement.</summary>
internal sealed class SqliteExportRow(SqliteStatement statement) : ExportRow
{
    private readonly LastText _revision = new(), _firmware = new();

    public override long Id => statement.Int64(0);
    public override long Timestamp => statement.Int64(3);
    public override int PowerSaveLevel => statement.Int32(6);
    public override int? Status => statement.IsNull(19) ? null : statement.Int32(19);
    public override ReadOnlySpan<byte> Revision => statement.Text(2);
    public override ReadOnlySpan<byte> Firmware => statement.Text(4);
    public override double Number(int column) => statement.Double(column);

    public override StoredMeasurement ToStored() => new(Id, new Measurement(
        NodeId, _revision.Of(Revision), Timestamp, _firmware.Of(Firmware), Number(5), PowerSaveLevel, Number(7), Number(8),
        Number(9), Number(10), Number(11), Number(12), Number(13), Number(14), Number(15), Number(16), Number(17),
        Number(18), Status));

    /// <summary>A text column's last string: a node's rows mostly repeat their revision and firmware.</summary>
    private sealed class LastText
    {
        private byte[] _utf8 = [];
        private string _value = "";

        public string Of(ReadOnlySpan<byte> utf8)
        {
            if (utf8.SequenceEqual(_utf8)) return _value;
            _utf8 = utf8.ToArray();
            return _value = Encoding.UTF8.GetString(utf8);
        }
    }
}

/// <summary>A row of any other database (PostgreSQL) through its ADO.NET reader.</summary>
internal sealed class ReaderExportRow(DbDataReader reader) : ExportRow
{
    private byte[] _revision = new byte[64], _firmware = new byte[64];

    public override long Id => reader.GetInt64(0);
    public override long Timestamp => reader.GetInt64(3);
    public override int PowerSaveLevel => reader.GetInt32(6);
    public override int? Status => reader.IsDBNull(19) ? null : reader.GetInt32(19);
    public override ReadOnlySpan<byte> Revision => Utf8(2, ref _revision);
    public override ReadOnlySpan<byte> Firmware => Utf8(4, ref _firmware);
    public override double Number(int column) => reader.GetDouble(column);
    public override StoredMeasurement ToStored() => Schema.ReadStored(reader);

    private ReadOnlySpan<byte> Utf8(int column, ref byte[] buffer)
    {
        var value = reader.GetString(column);
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (buffer.Length < max) buffer = new byte[max];
        return buffer.AsSpan(0, Encoding.UTF8.GetBytes(value, buffer));
    }
}
