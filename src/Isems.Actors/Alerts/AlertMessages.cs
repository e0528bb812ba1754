using Isems.Actors.Nodes;

namespace Isems.Actors.Alerts;

// The alerts' messages: what node actors publish, and the questions the alert book (AlertBookActor) answers.

/// <summary>A node's alert started firing or resolved (published once per transition, from the node's actor).</summary>
public sealed record AlertChanged(Alert Alert);

/// <summary>
/// Cluster mode: a node entity on another member fired or resolved an alert. Kept in this member's read model only, so
/// <c>GET /alerts</c> is alike on every member; its owner's member saves and delivers it, once.
/// </summary>
public sealed record AlertSeen(Alert Alert);

/// <summary>The alerts firing and those resolved since a week, optionally of one node or in one state.</summary>
public sealed record GetAlerts(string? NodeId = null, AlertState? State = null);

public sealed record AlertList(IReadOnlyList<Alert> Alerts);

/// <summary>How many alerts fire, by alert name (every rule named, zero included), for <c>isems_alerts_firing</c>.</summary>
public sealed record GetFiringCounts
{
    public static readonly GetFiringCounts Instance = new();
}

public sealed record FiringCounts(IReadOnlyDictionary<string, int> ByAlertName);

/// <summary>
/// A transition is in the database: published (event stream) for the deliveries, which so never tell an alert that a
/// restart would forget, and never tell one twice.
/// </summary>
public sealed record AlertRecorded(Alert Alert);

/// <summary>
/// The alert names muted for a node (the registry's <c>mutedAlerts</c>), told by the registry to the node's actor at
/// start, when an operator changes them, and when the node moves to its id. A muted rule is still evaluated, but does
/// not fire; one firing resolves at once (that resolution is delivered, so every receiver stops showing it).
/// </summary>
public sealed record MuteAlerts(string NodeKey, IReadOnlyList<string> AlertNames) : INodeMessage;
