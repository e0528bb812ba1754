using Isems.LineFormat;
using LinqToDB.Mapping;

namespace Isems.Storage;

/// <summary>One row of <c>measurements</c> as linq2db maps it. Column order follows the line (SPEC §1).</summary>
[Table(Schema.Table)]
internal sealed class MeasurementRow
{
    [Column("id"), PrimaryKey, Identity] public long Id { get; set; }
    [Column("node_id"), NotNull] public string NodeId { get; set; } = "";
    [Column("isems_revision"), NotNull] public string IsemsRevision { get; set; } = "";
    [Column("timestamp")] public long Timestamp { get; set; }
    [Column("firmware_version"), NotNull] public string FirmwareVersion { get; set; } = "";
    [Column("time_to_shutdown")] public double TimeToShutdown { get; set; }
    [Column("power_save_level")] public int PowerSaveLevel { get; set; }
    [Column("open_circuit_voltage")] public double OpenCircuitVoltage { get; set; }
    [Column("mpp_voltage")] public double MppVoltage { get; set; }
    [Column("battery_voltage")] public double BatteryVoltage { get; set; }
    [Column("battery_charge_estimate")] public double BatteryChargeEstimate { get; set; }
    [Column("battery_health_estimate")] public double BatteryHealthEstimate { get; set; }
    [Column("battery_temperature")] public double BatteryTemperature { get; set; }
    [Column("low_voltage_disconnect_voltage")] public double LowVoltageDisconnectVoltage { get; set; }
    [Column("temperature_corrected_voltage")] public double TemperatureCorrectedVoltage { get; set; }
    [Column("rate_battery_capacity")] public double RateBatteryCapacity { get; set; }
    [Column("rated_solar_module_capacity")] public double RatedSolarModuleCapacity { get; set; }
    [Column("latitude")] public double Latitude { get; set; }
    [Column("longitude")] public double Longitude { get; set; }
    [Column("status"), Nullable] public int? Status { get; set; }

    public StoredMeasurement ToStored() => new(Id, new Measurement(
        NodeId, IsemsRevision, Timestamp, FirmwareVersion, TimeToShutdown, PowerSaveLevel, OpenCircuitVoltage, MppVoltage,
        BatteryVoltage, BatteryChargeEstimate, BatteryHealthEstimate, BatteryTemperature, LowVoltageDisconnectVoltage,
        TemperatureCorrectedVoltage, RateBatteryCapacity, RatedSolarModuleCapacity, Latitude, Longitude, Status));
}
