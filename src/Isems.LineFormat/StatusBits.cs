namespace Isems.LineFormat;

/// <summary>The status field's bits, most significant first, as documented by the ISEMS project (SPEC §1).</summary>
[Flags]
public enum StatusBits
{
    None = 0,
    Unused = 0x001,
    FirmwareUpgradeNotAllowed = 0x002,
    LowBatteryTemperature = 0x004,
    BatteryOverheating = 0x008,
    NoControllerCommunication = 0x010,
    TemperatureSensorNotConnected = 0x020,
    StorageCapacityTooSmall = 0x040,
    BatteryLevelLow = 0x080,
    Healthy = 0x100,
    FullyCharged = 0x200,
    Discharging = 0x400,
    Charging = 0x800,
}

public static class StatusBitNames
{
    private static readonly (StatusBits Bit, string Name)[] Names =
    [
        (StatusBits.Charging, "charging"),
        (StatusBits.Discharging, "discharging"),
        (StatusBits.FullyCharged, "fully charged"),
        (StatusBits.Healthy, "healthy"),
        (StatusBits.BatteryLevelLow, "warning: battery level low"),
        (StatusBits.StorageCapacityTooSmall, "energy storage capacity too small"),
        (StatusBits.TemperatureSensorNotConnected, "temperature sensor not connected"),
        (StatusBits.NoControllerCommunication, "no communication with the solar controller"),
        (StatusBits.BatteryOverheating, "battery overheating"),
        (StatusBits.LowBatteryTemperature, "low battery temperature"),
        (StatusBits.FirmwareUpgradeNotAllowed, "firmware upgrade not allowed now"),
    ];

    /// <summary>The meanings of the bits set in <paramref name="status"/>, most significant first.</summary>
    public static IReadOnlyList<string> Describe(int status) =>
        Names.Where(n => (status & (int)n.Bit) != 0).Select(n => n.Name).ToArray();

    /// <summary>The API's text form: lowercase hex with <c>0x</c> and at least three digits (<c>0x902</c>, <c>0x000</c>).</summary>
    public static string ToApiText(int? status) => "0x" + (status ?? 0).ToString("x3");
}
