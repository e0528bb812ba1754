using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Isems.LineFormat;
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

    private const int FlushAt = 60 * 1024;
    private byte[] _buffer = new byte[64 * 1024 + 4096];
    private int _length;

    public bool Full => _length >= FlushAt;

    public void Header()
    {
        if (lines) return;
        Ascii(CsvHeader);
        Ascii("\r\n");
    }

    /// <summary>
    /// One row straight from the store's reader (columns as the store selects them: id, node_id, isems_revision,
    /// timestamp, firmware_version, time_to_shutdown, power_save_level, the 12 numbers, status), without a measurement
    /// object.
    /// </summary>
    public void Row(string nodeId, System.Data.Common.DbDataReader r)
    {
        var revision = r.GetString(2);
        var firmware = r.GetString(4);
        var need = 1024 + 6 * (nodeId.Length + revision.Length + firmware.Length);
        if (_buffer.Length - _length < need) Array.Resize(ref _buffer, _length + need + 64 * 1024);
        var sep = lines ? (byte)';' : (byte)',';
        Text(nodeId);
        Put(sep);
        Text(revision);
        Put(sep);
        var timestamp = r.GetInt64(3);
        if (lines) Integer(timestamp);
        else
        {
            DateTimeOffset.FromUnixTimeSeconds(timestamp).UtcDateTime.TryFormat(_buffer.AsSpan(_length), out var written, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            _length += written;
        }
        Put(sep);
        Text(firmware);
        Put(sep);
        Number(r.GetDouble(5));
        Put(sep);
        var powerSave = r.GetInt32(6);
        if (lines) Integer(powerSave);
        else Ascii(powerSave != 0 ? "true" : "false");
        for (var c = 7; c <= 18; c++)
        {
            Put(sep);
            Number(r.GetDouble(c));
        }
        int? status = r.IsDBNull(19) ? null : r.GetInt32(19);
        if (lines)
        {
            if (status is { } bits)
            {
                Put(sep);
                bits.TryFormat(_buffer.AsSpan(_length), out var written, "x3", CultureInfo.InvariantCulture);
                _length += written;
            }
            Put((byte)'\n');
            return;
        }
        Put(sep);
        Put((byte)'0');
        Put((byte)'x');
        (status ?? 0).TryFormat(_buffer.AsSpan(_length), out var hex, "x3", CultureInfo.InvariantCulture);
        _length += hex;
        Put(sep);
        Integer(r.GetInt64(0));
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
    private void Number(double value)
    {
        value.TryFormat(_buffer.AsSpan(_length), out var written, "R", CultureInfo.InvariantCulture);
        if (_buffer.AsSpan(_length, written).IndexOfAny((byte)'E', (byte)'e') >= 0)
            value.TryFormat(_buffer.AsSpan(_length), out written, "0.############################", CultureInfo.InvariantCulture);
        _length += written;
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
