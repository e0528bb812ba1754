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
    private static void Write(Utf8JsonWriter writer, StoredMeasurement stored)
    {
        var m = stored.Measurement;
        writer.WriteStartObject();
        writer.WriteNumber(BatteryChargeEstimate, m.BatteryChargeEstimate);
        writer.WriteNumber(BatteryHealthEstimate, m.BatteryHealthEstimate);
        writer.WriteNumber(BatteryTemperature, m.BatteryTemperature);
        writer.WriteNumber(BatteryVoltage, m.BatteryVoltage);
        writer.WriteNumber(Id, stored.Id);
        writer.WriteBoolean(IsPowerSaveMode, m.IsPowerSaveMode);
        writer.WriteString(IsemsRevision, m.IsemsRevision);
        writer.WriteNumber(Latitude, m.Latitude);
        writer.WriteNumber(Longitude, m.Longitude);
        writer.WriteNumber(LowVoltageDisconnectVoltage, m.LowVoltageDisconnectVoltage);
        writer.WriteNumber(MppVoltage, m.MppVoltage);
        writer.WriteString(NodeId, m.NodeId);
        writer.WriteNumber(OpenCircuitVoltage, m.OpenCircuitVoltage);
        writer.WriteString(OpenMpptFirmwareVersion, m.OpenMpptFirmwareVersion);
        writer.WriteNumber(RateBatteryCapacity, m.RateBatteryCapacity);
        writer.WriteNumber(RatedSolarModuleCapacity, m.RatedSolarModuleCapacity);
        writer.WriteString(Status, StatusBitNames.ToApiText(m.Status));
        writer.WriteNumber(TemperatureCorrectedVoltage, m.TemperatureCorrectedVoltage);
        writer.WriteNumber(TimeToShutdown, m.TimeToShutdown);
        Span<char> time = stackalloc char[20];
        DateTimeOffset.FromUnixTimeSeconds(m.Timestamp).UtcDateTime
            .TryFormat(time, out var written, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        writer.WriteString(Timestamp, time[..written]);
        writer.WriteEndObject();
    }
}
