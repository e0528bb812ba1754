using Isems.Actors.Nodes;

namespace Isems.Actors.Alerts;

/// <summary>
/// The alert names muted for a node (the registry's <c>mutedAlerts</c>), told by the registry to the node's actor at
/// start, when an operator changes them, and when the node moves to its id. A muted rule is still evaluated, but does
/// not fire; one firing resolves at once (that resolution is delivered, so every receiver stops showing it).
/// </summary>
public sealed record MuteAlerts(string NodeKey, IReadOnlyList<string> AlertNames) : INodeMessage;
