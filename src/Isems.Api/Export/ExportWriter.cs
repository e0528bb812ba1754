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

    public void Row(StoredMeasurement row)
    {
        var m = row.Measurement;
        // Room for the longest row this can be (text fields UTF-8 and quoted, numbers at most 40 bytes each).
        var need = 1024 + 6 * (m.NodeId.Length + m.IsemsRevision.Length + m.OpenMpptFirmwareVersion.Length);
        if (_buffer.Length - _length < need) Array.Resize(ref _buffer, _length + need + 64 * 1024);
        var sep = lines ? (byte)';' : (byte)',';
        Text(m.NodeId);
        Put(sep);
        Text(m.IsemsRevision);
        Put(sep);
        if (lines) Integer(m.Timestamp);
        else Ascii(DateTimeOffset.FromUnixTimeSeconds(m.Timestamp).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        Put(sep);
        Text(m.OpenMpptFirmwareVersion);
        Put(sep);
        Number(m.TimeToShutdown);
        Put(sep);
        if (lines) Integer(m.PowerSaveLevel);
        else Ascii(m.IsPowerSaveMode ? "true" : "false");
        foreach (var value in (ReadOnlySpan<double>)[m.OpenCircuitVoltage, m.MppVoltage, m.BatteryVoltage, m.BatteryChargeEstimate,
                     m.BatteryHealthEstimate, m.BatteryTemperature, m.LowVoltageDisconnectVoltage, m.TemperatureCorrectedVoltage,
                     m.RateBatteryCapacity, m.RatedSolarModuleCapacity, m.Latitude, m.Longitude])
        {
            Put(sep);
            Number(value);
        }
        if (lines)
        {
            // An 18-field line when the node sent no status, so the line parses back to the same measurement.
            if (m.Status is { } status)
            {
                Put(sep);
                Ascii(status.ToString("x3", CultureInfo.InvariantCulture));
            }
            Put((byte)'\n');
            return;
        }
        Put(sep);
        Ascii(StatusBitNames.ToApiText(m.Status));
        Put(sep);
        Integer(row.Id);
        Ascii("\r\n");
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
