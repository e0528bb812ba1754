using Akka.Actor;

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
    private readonly Dictionary<string, (NodeStatus Status, IActorRef From)> _byKey = new(StringComparer.Ordinal);
    private long _version;
    private FleetStatus? _answer;

    public static Props Props() => Akka.Actor.Props.Create(() => new FleetStatusActor());

    public FleetStatusActor()
    {
        Receive<NodeStatusChanged>(changed =>
        {
            if (changed.Replaces is { } before) _byKey.Remove(before);
            _byKey[changed.Status.NodeKey] = (changed.Status, Sender);
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
        if (_byKey.TryGetValue(id, out var entry)) return entry.Status;
        foreach (var (status, _) in _byKey.Values)
            if (status.NodeId == id) return status;
        return null;
    }

    private FleetStatus Answer() => _answer ??= new FleetStatus(
        _byKey.Values.Select(e => e.Status).OrderBy(s => s.NodeId ?? s.NodeKey, StringComparer.Ordinal).ToArray(), _version);

    private void Changed()
    {
        _version++;
        _answer = null;
    }
}
