namespace Isems.LineFormat;

/// <summary>
/// One validated measurement line (SPEC §1). Field order follows the line; names follow the API's JSON keys.
/// </summary>
public sealed record Measurement(
    string NodeId,
    string IsemsRevision,
    long Timestamp,
    string OpenMpptFirmwareVersion,
    double TimeToShutdown,
    int PowerSaveLevel,
    double OpenCircuitVoltage,
    double MppVoltage,
    double BatteryVoltage,
    double BatteryChargeEstimate,
    double BatteryHealthEstimate,
    double BatteryTemperature,
    double LowVoltageDisconnectVoltage,
    double TemperatureCorrectedVoltage,
    double RateBatteryCapacity,
    double RatedSolarModuleCapacity,
    double Latitude,
    double Longitude,
    int? Status)
{
    /// <summary>The original stored <c>level == "1"</c>; any non-zero level means power saving.</summary>
    public bool IsPowerSaveMode => PowerSaveLevel != 0;

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeSeconds(Timestamp);
}
