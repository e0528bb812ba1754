using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Api.Json;

/// <summary>
/// Writes <c>{"measurements":[...]}</c> straight from the stored rows, byte for byte what serializing
/// <see cref="MeasurementList"/> gives (a test holds the two together), without building an object per row: these are
/// the two endpoints the isems-app calls all the time, and 1,440 rows of history are 700 KB.
/// </summary>
public static class MeasurementJsonWriter
{
    private static readonly JsonEncodedText Measurements = JsonEncodedText.Encode("measurements");
    private static readonly JsonEncodedText BatteryChargeEstimate = JsonEncodedText.Encode("batteryChargeEstimate");
    private static readonly JsonEncodedText BatteryHealthEstimate = JsonEncodedText.Encode("batteryHealthEstimate");
    private static readonly JsonEncodedText BatteryTemperature = JsonEncodedText.Encode("batteryTemperature");
    private static readonly JsonEncodedText BatteryVoltage = JsonEncodedText.Encode("batteryVoltage");
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText IsPowerSaveMode = JsonEncodedText.Encode("isPowerSaveMode");
    private static readonly JsonEncodedText IsemsRevision = JsonEncodedText.Encode("isemsRevision");
    private static readonly JsonEncodedText Latitude = JsonEncodedText.Encode("latitude");
    private static readonly JsonEncodedText Longitude = JsonEncodedText.Encode("longitude");
    private static readonly JsonEncodedText LowVoltageDisconnectVoltage = JsonEncodedText.Encode("lowVoltageDisconnectVoltage");
    private static readonly JsonEncodedText MppVoltage = JsonEncodedText.Encode("mppVoltage");
    private static readonly JsonEncodedText NodeId = JsonEncodedText.Encode("nodeId");
    private static readonly JsonEncodedText OpenCircuitVoltage = JsonEncodedText.Encode("openCircuitVoltage");
    private static readonly JsonEncodedText OpenMpptFirmwareVersion = JsonEncodedText.Encode("openMPPTFirmwareVersion");
    private static readonly JsonEncodedText RateBatteryCapacity = JsonEncodedText.Encode("rateBatteryCapacity");
    private static readonly JsonEncodedText RatedSolarModuleCapacity = JsonEncodedText.Encode("ratedSolarModuleCapacity");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText TemperatureCorrectedVoltage = JsonEncodedText.Encode("temperatureCorrectedVoltage");
    private static readonly JsonEncodedText TimeToShutdown = JsonEncodedText.Encode("timeToShutdown");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");

    public static void WriteList(Utf8JsonWriter writer, IEnumerable<StoredMeasurement> rows)
    {
        writer.WriteStartObject();
        writer.WriteStartArray(Measurements);
        foreach (var row in rows) Write(writer, row);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static byte[] ToUtf8(IEnumerable<StoredMeasurement> rows)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        using (var writer = new Utf8JsonWriter(buffer)) WriteList(writer, rows);
        return buffer.WrittenSpan.ToArray();
    }

    // In the keys' sorted order, as the original's Flask sent them (and as MeasurementJson declares them).
    internal static void Write(Utf8JsonWriter writer, StoredMeasurement stored, IReadOnlySet<string>? keep = null)
    {
        var m = stored.Measurement;
        writer.WriteStartObject();
        if (keep is null || keep.Contains("batteryChargeEstimate")) writer.WriteNumber(BatteryChargeEstimate, m.BatteryChargeEstimate);
        if (keep is null || keep.Contains("batteryHealthEstimate")) writer.WriteNumber(BatteryHealthEstimate, m.BatteryHealthEstimate);
        if (keep is null || keep.Contains("batteryTemperature")) writer.WriteNumber(BatteryTemperature, m.BatteryTemperature);
        if (keep is null || keep.Contains("batteryVoltage")) writer.WriteNumber(BatteryVoltage, m.BatteryVoltage);
        if (keep is null || keep.Contains("id")) writer.WriteNumber(Id, stored.Id);
        if (keep is null || keep.Contains("isPowerSaveMode")) writer.WriteBoolean(IsPowerSaveMode, m.IsPowerSaveMode);
        if (keep is null || keep.Contains("isemsRevision")) writer.WriteString(IsemsRevision, m.IsemsRevision);
        if (keep is null || keep.Contains("latitude")) writer.WriteNumber(Latitude, m.Latitude);
        if (keep is null || keep.Contains("longitude")) writer.WriteNumber(Longitude, m.Longitude);
        if (keep is null || keep.Contains("lowVoltageDisconnectVoltage")) writer.WriteNumber(LowVoltageDisconnectVoltage, m.LowVoltageDisconnectVoltage);
        if (keep is null || keep.Contains("mppVoltage")) writer.WriteNumber(MppVoltage, m.MppVoltage);
        if (keep is null || keep.Contains("nodeId")) writer.WriteString(NodeId, m.NodeId);
        if (keep is null || keep.Contains("openCircuitVoltage")) writer.WriteNumber(OpenCircuitVoltage, m.OpenCircuitVoltage);
        if (keep is null || keep.Contains("openMPPTFirmwareVersion")) writer.WriteString(OpenMpptFirmwareVersion, m.OpenMpptFirmwareVersion);
        if (keep is null || keep.Contains("rateBatteryCapacity")) writer.WriteNumber(RateBatteryCapacity, m.RateBatteryCapacity);
        if (keep is null || keep.Contains("ratedSolarModuleCapacity")) writer.WriteNumber(RatedSolarModuleCapacity, m.RatedSolarModuleCapacity);
        if (keep is null || keep.Contains("status")) writer.WriteString(Status, StatusBitNames.ToApiText(m.Status));
        if (keep is null || keep.Contains("temperatureCorrectedVoltage")) writer.WriteNumber(TemperatureCorrectedVoltage, m.TemperatureCorrectedVoltage);
        if (keep is null || keep.Contains("timeToShutdown")) writer.WriteNumber(TimeToShutdown, m.TimeToShutdown);
        Span<char> time = stackalloc char[20];
        DateTimeOffset.FromUnixTimeSeconds(m.Timestamp).UtcDateTime
            .TryFormat(time, out var written, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        writer.WriteString(Timestamp, time[..written]);
        writer.WriteEndObject();
    }
}
