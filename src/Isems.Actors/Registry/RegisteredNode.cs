namespace Isems.Actors.Registry;

/// <summary>Where a node's entry came from: an operator through the admin API, or <c>ISEMS_ROUTER_IPS</c>.</summary>
public enum NodeSource
{
    Operator,
    Configuration,
}

/// <summary>
/// A node the collector is configured to poll, as the registry keeps it.
/// <paramref name="Key"/> is the node's one key, which routes it to its node actor: the id for a node an operator
/// added; for a node from configuration its original URL until its first good poll tells the id its lines carry, then
/// that id (<see cref="NodeIdentified"/>). The registry decides it and keeps it; nobody else maps one key to another.
/// </summary>
public sealed record RegisteredNode(
    string Id,
    Uri Url,
    int? IntervalSeconds,
    int? TimeoutSeconds,
    bool Enabled,
    string? Note,
    NodeSource Source,
    bool ChangedByOperator,
    DateTimeOffset AddedAt,
    DateTimeOffset ChangedAt,
    // Stored in the journal as "PollingKey", its name before it was the node's one key.
    [property: System.Text.Json.Serialization.JsonPropertyName("PollingKey")] string Key,
    // Absent in journals written before mutes existed: read as none.
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string[]? MutedAlerts = null)
{
    /// <summary>The alert names muted for the node, none as an empty list.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<string> Muted => MutedAlerts ?? [];
}

/// <summary>Set a field to <paramref name="Value"/>, which may be null ("back to the default", "no note").</summary>
public sealed record Change<T>(T Value);

/// <summary>What an operator changes on a node; a null field stays as it is.</summary>
public sealed record NodeChanges(
    Uri? Url = null,
    Change<int?>? IntervalSeconds = null,
    Change<int?>? TimeoutSeconds = null,
    bool? Enabled = null,
    Change<string?>? Note = null,
    // The alert names to mute (replacing those muted before); empty unmutes all.
    string[]? MutedAlerts = null)
{
    public RegisteredNode ApplyTo(RegisteredNode node, DateTimeOffset now) => node with
    {
        Url = Url ?? node.Url,
        IntervalSeconds = IntervalSeconds is null ? node.IntervalSeconds : IntervalSeconds.Value,
        TimeoutSeconds = TimeoutSeconds is null ? node.TimeoutSeconds : TimeoutSeconds.Value,
        Enabled = Enabled ?? node.Enabled,
        Note = Note is null ? node.Note : Note.Value,
        MutedAlerts = MutedAlerts is null ? node.MutedAlerts : MutedAlerts.Length == 0 ? null : MutedAlerts,
        ChangedByOperator = true,
        ChangedAt = now,
    };
}
