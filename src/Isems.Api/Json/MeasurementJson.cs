using System.Globalization;
using System.Text.Json.Serialization;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Api.Json;

/// <summary>
/// A measurement exactly as the original collector sent it (SPEC §3): every column under its camelCase name, in the
/// order Flask's sorted keys gave, <c>status</c> as <c>"0x902"</c>, <c>isPowerSaveMode</c> as a boolean. One
/// difference, on purpose: <c>timestamp</c> carries its UTC offset, so every viewer sees the right instant.
/// </summary>
public sealed record MeasurementJson(
    [property: JsonPropertyName("batteryChargeEstimate")] double BatteryChargeEstimate,
    [property: JsonPropertyName("batteryHealthEstimate")] double BatteryHealthEstimate,
    [property: JsonPropertyName("batteryTemperature")] double BatteryTemperature,
    [property: JsonPropertyName("batteryVoltage")] double BatteryVoltage,
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("isPowerSaveMode")] bool IsPowerSaveMode,
    [property: JsonPropertyName("isemsRevision")] string IsemsRevision,
    [property: JsonPropertyName("latitude")] double Latitude,
    [property: JsonPropertyName("longitude")] double Longitude,
    [property: JsonPropertyName("lowVoltageDisconnectVoltage")] double LowVoltageDisconnectVoltage,
    [property: JsonPropertyName("mppVoltage")] double MppVoltage,
    [property: JsonPropertyName("nodeId")] string NodeId,
    [property: JsonPropertyName("openCircuitVoltage")] double OpenCircuitVoltage,
    [property: JsonPropertyName("openMPPTFirmwareVersion")] string OpenMpptFirmwareVersion,
    [property: JsonPropertyName("rateBatteryCapacity")] double RateBatteryCapacity,
    [property: JsonPropertyName("ratedSolarModuleCapacity")] double RatedSolarModuleCapacity,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("temperatureCorrectedVoltage")] double TemperatureCorrectedVoltage,
    [property: JsonPropertyName("timeToShutdown")] double TimeToShutdown,
    [property: JsonPropertyName("timestamp")] string Timestamp)
{
    public static MeasurementJson From(StoredMeasurement stored)
    {
        var m = stored.Measurement;
        return new MeasurementJson(
            m.BatteryChargeEstimate, m.BatteryHealthEstimate, m.BatteryTemperature, m.BatteryVoltage, stored.Id,
            m.IsPowerSaveMode, m.IsemsRevision, m.Latitude, m.Longitude, m.LowVoltageDisconnectVoltage, m.MppVoltage,
            m.NodeId, m.OpenCircuitVoltage, m.OpenMpptFirmwareVersion, m.RateBatteryCapacity,
            m.RatedSolarModuleCapacity, StatusBitNames.ToApiText(m.Status), m.TemperatureCorrectedVoltage,
            m.TimeToShutdown, IsoTime(m.Timestamp));
    }

    /// <summary>ISO 8601 in UTC with its offset, to the second: <c>2018-09-18T05:52:42Z</c>.</summary>
    public static string IsoTime(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>The body of both measurement endpoints: <c>{"measurements":[...]}</c>.</summary>
public sealed record MeasurementList([property: JsonPropertyName("measurements")] IReadOnlyList<MeasurementJson> Measurements)
{
    public static MeasurementList From(IEnumerable<StoredMeasurement> rows) => new(rows.Select(MeasurementJson.From).ToList());
}
