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

    // In a cluster, this member's address: an entry told by a node actor here names it as the node's member.
    private readonly Address? _self;

    public static Props Props() => Akka.Actor.Props.Create(() => new FleetStatusActor());

    public FleetStatusActor()
    {
        var own = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
        _self = own.HasGlobalScope ? own : null;
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
        // Cluster mode: a member that just joined has none of this; each member tells it the nodes its own entities own,
        // each from its entity (so a later removal by that entity still matches).
        Receive<ResendOwnNodes>(resend =>
        {
            foreach (var (status, blank, from) in _byKey.Values)
                if (from.Path.Address.HasLocalScope) resend.To.Tell(new NodeStatusChanged(status ?? blank!.ToStatus()), from);
        });
        // Cluster mode: a question for a node goes to its entity only if the node exists, as in one process, where an
        // unknown key gets an answer rather than a new actor (the shard would start, and remember, one for any key).
        Receive<RouteIfKnown>(route =>
        {
            if (_byKey.ContainsKey(route.Query.NodeKey)) route.Nodes.Tell(route.Query, Sender);
            else Sender.Tell(new NodeNotFound(route.Query.NodeKey));
        });
        Receive<FindPreviousStatus>(find => Sender.Tell(new PreviousStatus(ByKey(find.NodeKey))));
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

    /// <summary>A node's status by its key only, for a node entity started anew on this member (cluster mode).</summary>
    internal NodeStatus? ByKey(string key) => _byKey.TryGetValue(key, out var e) ? e.Status ?? e.Blank!.ToStatus() : null;

    private FleetStatus Answer() => _answer ??= new FleetStatus(
        _byKey.Values.Select(StatusOf).OrderBy(s => s.NodeId ?? s.NodeKey, StringComparer.Ordinal).ToArray(), _version);

    private NodeStatus StatusOf((NodeStatus? Status, Blank? Blank, IActorRef From) entry)
    {
        var status = entry.Status ?? entry.Blank!.ToStatus();
        if (_self is null) return status;
        var member = entry.From.Path.Address.HasLocalScope ? _self : entry.From.Path.Address;
        return status with { Member = member.ToString() };
    }

    private void Changed()
    {
        _version++;
        _answer = null;
    }
}

/// <summary>Cluster mode: tell <paramref name="To"/> (another member's status read model) the nodes owned here.</summary>
public sealed record ResendOwnNodes(IActorRef To);

/// <summary>
/// A node entity started anew (cluster mode) asks its member's status read model what the fleet last knew of it under
/// its key: answered with <see cref="PreviousStatus"/>.
/// </summary>
public sealed record FindPreviousStatus(string NodeKey);

public sealed record PreviousStatus(NodeStatus? Status);

/// <summary>Cluster mode, local: send <paramref name="Query"/> on to <paramref name="Nodes"/> if its node is known.</summary>
public sealed record RouteIfKnown(INodeQuery Query, IActorRef Nodes);
