using System.Globalization;
using Isems.LineFormat;

namespace Isems.Dashboard;

/// <summary>The API's status text (<c>"0x902"</c>) in words, and which bits are alarms.</summary>
public static class StatusText
{
    public static int Parse(string? status)
    {
        if (string.IsNullOrEmpty(status)) return 0;
        var hex = status.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? status[2..] : status;
        return int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var bits) ? bits : 0;
    }

    public static IReadOnlyList<string> Describe(string? status) => StatusBitNames.Describe(Parse(status));

    /// <summary>The bits the timeline shows, most significant first, with whether each is bad news.</summary>
    public static readonly (StatusBits Bit, string Name, string Css)[] Timeline =
    [
        (StatusBits.Charging, "charging", "bit-ok"),
        (StatusBits.Discharging, "discharging", "bit-info"),
        (StatusBits.FullyCharged, "fully charged", "bit-ok"),
        (StatusBits.Healthy, "healthy", "bit-ok"),
        (StatusBits.BatteryLevelLow, "battery level low", "bit-bad"),
        (StatusBits.StorageCapacityTooSmall, "storage too small", "bit-warn"),
        (StatusBits.TemperatureSensorNotConnected, "temperature sensor missing", "bit-warn"),
        (StatusBits.NoControllerCommunication, "controller unreachable", "bit-bad"),
        (StatusBits.BatteryOverheating, "battery overheating", "bit-bad"),
        (StatusBits.LowBatteryTemperature, "battery cold", "bit-warn"),
        (StatusBits.FirmwareUpgradeNotAllowed, "firmware upgrade not allowed", "bit-info"),
    ];
}
