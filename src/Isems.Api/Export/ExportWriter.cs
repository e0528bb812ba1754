using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Isems.Api.Json;
using Isems.Storage;

namespace Isems.Api.Export;

/// <summary>
/// Writes measurements as CSV (RFC 4180: CRLF, fields with a comma, quote or line break quoted, quotes doubled) or as
/// the nodes' own line format (SPEC §1), UTF-8 into a buffer that the caller flushes to the response as it fills, so
/// an export of any size holds one buffer in memory.
/// </summary>
public sealed class ExportWriter(Stream output, bool lines)
{
    /// <summary>The header row: the API's keys in line order (SPEC §1), then the row id.</summary>
    public const string CsvHeader =
        "nodeId,isemsRevision,timestamp,openMPPTFirmwareVersion,timeToShutdown,isPowerSaveMode,openCircuitVoltage," +
        "mppVoltage,batteryVoltage,batteryChargeEstimate,batteryHealthEstimate,batteryTemperature," +
        "lowVoltageDisconnectVoltage,temperatureCorrectedVoltage,rateBatteryCapacity,ratedSolarModuleCapacity,latitude," +
        "longitude,status,id";

    private static readonly System.Buffers.SearchValues<byte> CsvSpecial = System.Buffers.SearchValues.Create(",\"\r\n"u8);

    // Pieces of 256 KiB: a year's export is 66 MiB, and each piece handed to the response is a write and a flush
    // through Kestrel's pipe to the socket (a quarter as many as with 64 KiB pieces).
    private const int FlushAt = 252 * 1024;
    private byte[] _buffer = new byte[256 * 1024 + 4096];
    private int _length;
    private readonly Utf8Text _text = new(13);
    private string? _nodeId;
    private byte[] _nodeIdText = [];

    public bool Full => _length >= FlushAt;

    public void Header()
    {
        if (lines) return;
        Ascii(CsvHeader);
        Ascii("\r\n");
    }

    /// <summary>
    /// One row as the store reads it, without a measurement object: its text columns copied as UTF-8, its timestamp
    /// and numbers written by <see cref="Utf8Text"/> (a node's repeated values formatted once).
    /// </summary>
    public void Row(ExportRow r)
    {
        var nodeId = r.NodeId;
        var revision = r.Revision;
        var need = 1024 + 6 * nodeId.Length + 2 * revision.Length;
        if (_buffer.Length - _length < need) Array.Resize(ref _buffer, _length + need + 64 * 1024);
        var sep = lines ? (byte)';' : (byte)',';
        if (!ReferenceEquals(nodeId, _nodeId))
        {
            // The node's id field, as its text is written, kept while its rows last.
            var start = _length;
            Text(nodeId);
            _nodeIdText = _buffer.AsSpan(start, _length - start).ToArray();
            _nodeId = nodeId;
        }
        else Bytes(_nodeIdText);
        Put(sep);
        Text(revision);
        Put(sep);
        var timestamp = r.Timestamp;
        if (lines) Integer(timestamp);
        else _length += _text.Time(timestamp, _buffer.AsSpan(_length));
        Put(sep);
        var firmware = r.Firmware;
        if (_buffer.Length - _length < 512 + 2 * firmware.Length) Array.Resize(ref _buffer, _length + 2 * firmware.Length + 64 * 1024);
        Text(firmware);
        Put(sep);
        Number(0, r.Number(ExportRow.TimeToShutdownColumn));
        Put(sep);
        var powerSave = r.PowerSaveLevel;
        if (lines) Integer(powerSave);
        else Ascii(powerSave != 0 ? "true" : "false");
        for (var c = ExportRow.FirstNumberColumn; c <= ExportRow.LastNumberColumn; c++)
        {
            Put(sep);
            Number(c - ExportRow.FirstNumberColumn + 1, r.Number(c));
        }
        var status = r.Status;
        if (lines)
        {
            if (status is { } bits)
            {
                Put(sep);
                _length += Utf8Text.Hex3(bits, _buffer.AsSpan(_length));
            }
            Put((byte)'\n');
            return;
        }
        Put(sep);
        Put((byte)'0');
        Put((byte)'x');
        _length += Utf8Text.Hex3(status ?? 0, _buffer.AsSpan(_length));
        Put(sep);
        Integer(r.Id);
        Put((byte)'\r');
        Put((byte)'\n');
    }

    public async Task FlushAsync(CancellationToken ct)
    {
        if (_length == 0) return;
        await output.WriteAsync(_buffer.AsMemory(0, _length), ct).ConfigureAwait(false);
        _length = 0;
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    private void Put(byte b) => _buffer[_length++] = b;

    private void Ascii(string s) => _length += Encoding.ASCII.GetBytes(s, _buffer.AsSpan(_length));

    private void Integer(long value)
    {
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out var written);
        _length += written;
    }

    /// <summary>The shortest text that reads back as the same double, without an exponent (the line parser takes none).</summary>
    private void Number(int column, double value) => _length += _text.Plain(column, value, _buffer.AsSpan(_length));

    private void Bytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>A UTF-8 field, quoted in CSV when it holds a comma, quote or line break (quotes doubled).</summary>
    private void Text(ReadOnlySpan<byte> utf8)
    {
        if (lines || utf8.IndexOfAny(CsvSpecial) < 0)
        {
            Bytes(utf8);
            return;
        }
        Put((byte)'"');
        foreach (var b in utf8)
        {
            if (b == (byte)'"') Put(b);
            Put(b);
        }
        Put((byte)'"');
    }

    private void Text(string s)
    {
        var quote = !lines && s.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        if (!quote)
        {
            _length += Encoding.UTF8.GetBytes(s, _buffer.AsSpan(_length));
            return;
        }
        Put((byte)'"');
        _length += Encoding.UTF8.GetBytes(s.Replace("\"", "\"\""), _buffer.AsSpan(_length));
        Put((byte)'"');
    }
}
