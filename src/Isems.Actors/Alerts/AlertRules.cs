namespace Isems.Actors.Alerts;

/// <summary>The built-in rules of SPEC §8: their names, severities, and for the status-bit rules, the bit.</summary>
public sealed record AlertRule(string Name, string Severity, int? Bit, string Summary)
{
    public const string NodeDown = "NodeDown";
    public const string NodeSilent = "NodeSilent";

    public static readonly IReadOnlyList<AlertRule> All =
    [
        new(NodeDown, "warning", null, "the node's polls have failed"),
        new(NodeSilent, "warning", null, "no new measurement from the node"),
        new("BatteryLow", "critical", 0x080, "battery low"),
        new("BatteryOverheating", "critical", 0x008, "battery overheating"),
        new("BatteryCold", "warning", 0x004, "battery too cold"),
        new("ControllerUnreachable", "warning", 0x010, "no communication with the solar controller"),
        new("TemperatureSensorMissing", "info", 0x020, "battery temperature sensor missing"),
        new("StorageTooSmall", "info", 0x040, "storage too small"),
    ];

    public static readonly IReadOnlyList<AlertRule> StatusBits = All.Where(r => r.Bit is not null).ToArray();

    public static AlertRule? Find(string name) => All.FirstOrDefault(r => r.Name == name);
}

/// <summary>Thresholds of the time-based rules (ALERT_SILENT_MINUTES, ALERT_DOWN_MINUTES), built once at the edge.</summary>
public sealed record AlertOptions
{
    public TimeSpan Silent { get; init; } = TimeSpan.FromMinutes(45);
    public TimeSpan Down { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// A time-based condition is observed by a timer; once it holds, the second observation (the one that fires) comes
    /// this much later, so the time rules keep the same "2 in" as the rules fed by measurements.
    /// </summary>
    public TimeSpan RecheckAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Consecutive observations for a condition to fire, and clear ones for it to resolve.</summary>
    public int Hysteresis { get; init; } = 2;
}

public enum AlertState { Firing, Resolved }

/// <summary>One alert of one node, as it is told to the API, the read model and the delivery.</summary>
public sealed record Alert(
    string AlertName, string NodeId, string Severity, AlertState State, DateTimeOffset StartsAt, DateTimeOffset? EndsAt, string Summary);

