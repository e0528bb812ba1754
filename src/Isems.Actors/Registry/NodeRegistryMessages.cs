namespace Isems.Actors.Registry;

// Commands, from the admin API. Each is answered with a RegistryEntry, RegistryEntries, NodeRetired (remove) or a
// RegistryRefusal; validation of the values happened before, at the edge, so a command here is either applied whole
// or refused whole.

public sealed record AddNode(string Id, Uri Url, int? IntervalSeconds, int? TimeoutSeconds, bool Enabled, string? Note, string[]? MutedAlerts = null);

public sealed record ChangeNode(string Id, NodeChanges Changes);

/// <summary>Polling stops; the stored rows stay, or with <paramref name="Purge"/> are deleted. Answered by the node actor.</summary>
public sealed record RemoveNode(string Id, bool Purge);

public sealed record GetRegisteredNodes;

public sealed record GetRegisteredNode(string Id);

/// <summary>
/// How many nodes are registered (readiness asks this): a small answer, where the whole list of a large fleet would be
/// megabytes across the network to another member in a cluster. Answered with <see cref="RegisteredNodeCount"/>.
/// </summary>
public sealed record CountRegisteredNodes;

public sealed record RegisteredNodeCount(int Nodes);

// Replies

public sealed record RegistryEntry(RegisteredNode Node);

public sealed record RegistryEntries(IReadOnlyList<RegisteredNode> Nodes);

public enum RefusalKind
{
    NotFound,
    Conflict,
}

public sealed record RegistryRefusal(RefusalKind Kind, string Message);

// Events, persisted in the journal. Their shape is the journal's format: add fields with defaults, never rename.

public interface IRegistryEvent;

public sealed record NodeAdded(RegisteredNode Node) : IRegistryEvent;

public sealed record NodeChanged(RegisteredNode Node) : IRegistryEvent;

/// <summary><paramref name="ByOperator"/>: an operator removed a node from configuration; its URL stays removed.</summary>
public sealed record NodeRemoved(string Id, bool ByOperator) : IRegistryEvent;

/// <summary>
/// <c>ISEMS_ROUTER_IPS</c> merged at start: the nodes it added, and the ids of untouched configured nodes it no longer
/// names. One event however large the fleet.
/// </summary>
public sealed record ConfigurationMerged(RegisteredNode[] Added, string[] GoneIds) : IRegistryEvent;

/// <summary>
/// A node known only by its address read its id from its first good poll: from now on its one key is
/// <paramref name="NodeId"/> (its <see cref="RegisteredNode.Key"/>), after any restart too.
/// </summary>
public sealed record NodeIdentified(string Id, string NodeId) : IRegistryEvent;

/// <summary>The registry's whole state, saved every so many events so that recovery replays few.</summary>
public sealed record RegistrySnapshot(RegisteredNode[] Nodes, string[] RemovedConfiguredUrls);

/// <summary>
/// Cluster mode: a node entity started anew asks for its settings; answered, to the entity, with its
/// <c>StartPolling</c> or <c>StopPolling</c> (and its mutes), or nothing for a key the registry does not know.
/// </summary>
public sealed record RecallNode(string NodeKey);
