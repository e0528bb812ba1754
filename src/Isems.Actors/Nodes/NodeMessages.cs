using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// A message for one node, carrying the key it is routed by: the node id, or for a node known only by its address,
/// the address until its first good poll tells its id. This envelope is all the routing there is, so the
/// <see cref="NodeManagerActor"/> can give way to a cluster shard region without the node actors noticing.
/// </summary>
public interface INodeMessage
{
    string NodeKey { get; }
}

/// <summary>A question about a node that exists: an unknown key gets <see cref="NodeNotFound"/>, not a new actor.</summary>
public interface INodeQuery : INodeMessage;

/// <summary>
/// Poll this node's log at <paramref name="LogUrl"/> on its schedule from now on; sent again, it changes the settings
/// in place. <paramref name="PollAtOnce"/>: fetch now and then keep to the schedule (a node an operator just added).
/// <paramref name="MovedFrom"/>: the registry just moved the node from its address to this key, its id, with the
/// record the node had there (plain data, as the node reported it when it identified itself).
/// </summary>
public sealed record StartPolling(
    string NodeKey, Uri LogUrl, NodePollSettings? Settings = null, bool PollAtOnce = false, NodeSnapshot? MovedFrom = null) : INodeMessage;

/// <summary>
/// A node's record as plain data, to go on under another key: its status (health, counters, newest row) and where its
/// log was read up to.
/// </summary>
public sealed record NodeSnapshot(NodeStatus Status, LogBookmark? Position, Isems.Actors.Alerts.NodeAlertsCarry? Alerts = null);

/// <summary>A node's own interval and timeout; null keeps the collector's defaults.</summary>
public sealed record NodePollSettings(TimeSpan? Interval, TimeSpan? Timeout);

/// <summary>
/// Stop polling on schedule (an operator disabled the node). Its data stays visible, and <see cref="PollNow"/> still
/// fetches its log once.
/// </summary>
public sealed record StopPolling(string NodeKey, Uri LogUrl) : INodeMessage;

/// <summary>
/// The node is no longer configured. Without <paramref name="PurgeRows"/> its actor stays with the data it has, like a
/// node only known from the database; with it, its stored rows are deleted and the actor stops. Answered with
/// <see cref="NodeRetired"/>.
/// </summary>
public sealed record RetireNode(string NodeKey, bool PurgeRows) : INodeMessage;

public sealed record NodeRetired(string NodeKey, string? NodeId, int RowsDeleted);

// A node actor's own saved state, asked for when it starts (from the NodeStateLoaderActor).

/// <summary>What was saved for this node before the last stop: answered with <see cref="NodeStateLoaded"/>.</summary>
public sealed record LoadNodeState(string NodeKey);

/// <summary>
/// Where the node's log was read up to (<paramref name="Bookmark"/>), its newest stored row and its alerts that were
/// firing (it goes on from them without telling them again); each null or empty when nothing was saved.
/// </summary>
public sealed record NodeStateLoaded(
    string NodeKey, LogBookmark? Bookmark, StoredMeasurement? Latest, IReadOnlyList<Isems.Actors.Alerts.Alert>? Firing);

/// <summary>Which nodes the database has rows of? Asked by the node manager when it starts; answered with <see cref="NodesFound"/>.</summary>
public sealed record FindSavedNodes
{
    public static readonly FindSavedNodes Instance = new();
}

/// <summary>The nodes the database has rows of, found at start: each gets its actor, which loads its own state.</summary>
public sealed record NodesFound(IReadOnlyList<string> NodeKeys);

/// <summary>
/// By log URL, the node ids the saved bookmarks say their lines carry: asked by the registry for its merge at start.
/// Answered with <see cref="LoggedIds"/>.
/// </summary>
public sealed record GetLoggedIds
{
    public static readonly GetLoggedIds Instance = new();
}

/// <summary>Start-up is done: the loader drops what no node actor asked for, and answers with the same message.</summary>
public sealed record ForgetUnclaimedState
{
    public static readonly ForgetUnclaimedState Instance = new();
}

public sealed record LoggedIds(IReadOnlyDictionary<string, string>? ByLogUrl);

/// <summary>
/// Lines the node pushed (an MQTT message), already parsed: store them, then tell the sender with its
/// <paramref name="Tag"/> — <see cref="LinesIngested"/> once they are committed, or <see cref="LinesNotIngested"/>
/// if they could not be (the sender keeps the message unacknowledged, and the broker keeps it).
/// </summary>
public sealed record IngestLines(string NodeKey, IReadOnlyList<Measurement> Lines, RejectionCounts Rejected, long Tag) : INodeMessage;

public sealed record LinesIngested(string NodeKey, long Tag, int Stored, int Duplicates);

public sealed record LinesNotIngested(string NodeKey, long Tag, string Reason);

/// <summary>Fetch the log once, now, and answer with a <see cref="PollOutcome"/> when its lines are stored.</summary>
public sealed record PollNow(string NodeKey) : INodeQuery;

/// <summary>Answered with a <see cref="NodeStatus"/>.</summary>
public sealed record GetNodeStatus(string NodeKey) : INodeQuery;

public sealed record NodeNotFound(string NodeKey);

/// <summary>What one poll brought: lines stored, already stored and rejected, or why it failed.</summary>
public sealed record PollOutcome(
    string NodeKey,
    string? NodeId,
    bool Succeeded,
    int Stored,
    int Duplicates,
    RejectionCounts Rejected,
    string? Error);

/// <summary>
/// The node's actor stops (the registry moved the node to its id: the actor under its address is not needed any
/// more). Nothing is handed on: the actor under the id loads what it needs itself; only polls asked for by the
/// address while it moved are sent on to <paramref name="MovedTo"/>.
/// </summary>
public sealed record StopNode(string NodeKey, string MovedTo) : INodeMessage;

// What node actors publish, from one place (NodeEvents): the read models, the registry and, next, alert evaluation
// listen to these. Each names the node by its key.

/// <summary>A node actor's newest stored measurement changed.</summary>
public sealed record LatestChanged(StoredMeasurement Latest);

/// <summary>A node's rows were purged: it has no latest measurement any more.</summary>
public sealed record LatestRemoved(string NodeId);

/// <summary>The node's retries are spent: it is down since its first failed attempt of the run.</summary>
public sealed record NodeWentDown(string NodeKey, DateTimeOffset Since, string? Error);

/// <summary>A down node answered again.</summary>
public sealed record NodeCameUp(string NodeKey, DateTimeOffset At, TimeSpan DownFor);

/// <summary>
/// The node's health or counters changed: the status read model keeps this one. <paramref name="Replaces"/>: the key
/// the node had before the registry moved it to this one; its entry goes in the same step, so the node is listed
/// once throughout.
/// </summary>
public sealed record NodeStatusChanged(NodeStatus Status, string? Replaces = null);

/// <summary>The node's actor stopped: its status leaves the read model.</summary>
public sealed record NodeStatusRemoved(string NodeKey);

/// <summary>
/// A node known only by its address read its id from its first good poll's lines. Told to the node registry, which
/// owns identity: it records it and moves the node to its id, passing <paramref name="Snapshot"/> on.
/// </summary>
public sealed record IdentifyNode(string NodeKey, string NodeId, NodeSnapshot Snapshot);

/// <summary>
/// The registry's answer to an <see cref="IdentifyNode"/> it does not act on: the node stays under its key (another
/// node has that id, the node is not registered, or the run records nothing), so it stops telling.
/// </summary>
public sealed record IdentityKept(string NodeKey);

/// <summary>
/// To the status read model: a node's status by its key or by the id its lines carry; answered with a
/// <see cref="NodeStatus"/> or <see cref="NodeNotFound"/>.
/// </summary>
public sealed record FindNodeStatus(string Id);

/// <summary>Fleet-wide questions, answered by the read models the node actors keep current.</summary>
public sealed record GetFleetLatest;

/// <summary>Every node's newest measurement, ordered by node id; <paramref name="Version"/> changes whenever one does.</summary>
public sealed record FleetLatest(IReadOnlyList<StoredMeasurement> Measurements, long Version);

public sealed record GetFleetStatus;

/// <summary>
/// Answered with <see cref="NodesStarted"/> once every node actor has handled what was sent to it before: the host
/// waits for it before it says ready. A small answer on purpose: asking 100,000 nodes for their status at start-up
/// left the heap 500 MiB larger.
/// </summary>
public sealed record AwaitNodesStarted;

/// <param name="Nodes">How many node actors answered.</param>
public sealed record NodesStarted(int Nodes);

/// <summary>A node actor's answer to the start barrier: it has handled every message sent to it before.</summary>
public sealed record NodeStarted
{
    public static readonly NodeStarted Instance = new();
}

/// <summary>The question the start barrier asks each node actor.</summary>
public sealed record IsNodeStarted
{
    public static readonly IsNodeStarted Instance = new();
}

/// <summary>Every node's status, ordered by node id (or key); <paramref name="Version"/> changes whenever one does.</summary>
public sealed record FleetStatus(IReadOnlyList<NodeStatus> Nodes, long Version = 0);
