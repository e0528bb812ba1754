using Akka.Actor;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// Every node's health and counters, kept current by the node actors (<see cref="NodeStatusChanged"/>), so that
/// <c>/nodes</c>, <c>/nodes/{id}</c>, the admin list and the node-state metrics are one message to this read model,
/// never a question to every node. It owns no node's state, only this view of it; the
/// <see cref="FleetStatus.Version"/> moves on with every change, so what is built from one answer (the JSON) can be
/// kept until the next change.
/// </summary>
public sealed class FleetStatusActor : ReceiveActor
{
    /// <summary>
    /// A node that has done nothing yet since the start (most of a large idle fleet right after it): kept in a quarter of
    /// the memory of its full status, which is made again from it when asked.
    /// </summary>
    private sealed record Blank(string NodeKey, string? NodeId, Uri? LogUrl, NodeState State, DateTimeOffset? NextPoll, StoredMeasurement? Latest)
    {
        public static bool Fits(NodeStatus s) =>
            s is { Polls: 0, LinesPushed: 0, LinesStored: 0, LinesDuplicate: 0, LastError: null, LastAttempt: null, LastSuccess: null,
                DownSince: null, ConsecutiveFailures: 0, BytesFetched: 0, LastPush: null } && s.LinesRejected.Total == 0;

        public NodeStatus ToStatus() => new(NodeKey, NodeId, LogUrl, State, null, null, null, 0, null, NextPoll, 0, 0, 0, 0,
            RejectionCounts.None, 0, 0, null, Latest);
    }

    // Each node's status, or its Blank: one of the two.
    private readonly Dictionary<string, (NodeStatus? Status, Blank? Blank, IActorRef From)> _byKey = new(StringComparer.Ordinal);
    private long _version;
    private FleetStatus? _answer;

    public static Props Props() => Akka.Actor.Props.Create(() => new FleetStatusActor());

    public FleetStatusActor()
    {
        Receive<NodeStatusChanged>(changed =>
        {
            if (changed.Replaces is { } before) _byKey.Remove(before);
            var s = changed.Status;
            _byKey[s.NodeKey] = Blank.Fits(s) ? (null, new Blank(s.NodeKey, s.NodeId, s.LogUrl, s.State, s.NextPoll, s.Latest), Sender) : (s, null, Sender);
            Changed();
        });
        Receive<NodeStatusRemoved>(removed =>
        {
            // Only the actor that told the status takes it away: a node re-added under the same key while its old
            // actor was stopping keeps the new actor's status.
            if (_byKey.TryGetValue(removed.NodeKey, out var known) && known.From.Equals(Sender) && _byKey.Remove(removed.NodeKey))
                Changed();
        });
        Receive<GetFleetStatus>(_ => Sender.Tell(Answer()));
        Receive<FindNodeStatus>(find => Sender.Tell(Find(find.Id) ?? (object)new NodeNotFound(find.Id)));
    }

    /// <summary>By the node's key first; else the node whose lines carry that id (a node still under its address).</summary>
    private NodeStatus? Find(string id)
    {
        if (_byKey.TryGetValue(id, out var entry)) return StatusOf(entry);
        foreach (var e in _byKey.Values)
            if ((e.Status is { } status ? status.NodeId : e.Blank!.NodeId) == id) return StatusOf(e);
        return null;
    }

    private FleetStatus Answer() => _answer ??= new FleetStatus(
        _byKey.Values.Select(StatusOf).OrderBy(s => s.NodeId ?? s.NodeKey, StringComparer.Ordinal).ToArray(), _version);

    private static NodeStatus StatusOf((NodeStatus? Status, Blank? Blank, IActorRef From) entry) => entry.Status ?? entry.Blank!.ToStatus();

    private void Changed()
    {
        _version++;
        _answer = null;
    }
}
