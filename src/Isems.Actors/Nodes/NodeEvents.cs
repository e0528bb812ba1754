using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Alerts;
using Isems.Actors.Registry;

namespace Isems.Actors.Nodes;

/// <summary>
/// The one place a node actor's changes leave it: its newest measurement to the fleet's latest rows, its status to
/// the fleet's status, its transitions (down, up), and its id, learned from its first good poll, to the node
/// registry, which owns identity. Alert evaluation plugs in here. One instance serves every node actor of a process:
/// it holds only where to tell, never a node's state.
/// </summary>
public sealed class NodeEvents(ActorSystem system, IActorRef latest, IActorRef status)
{
    private IActorRef? _registry;

    // Cluster mode: this member's own status read model, asked by an entity started anew what the fleet knew of it.
    private IActorRef? _localStatus;

    /// <summary>
    /// Cluster mode: what the node entities publish goes to <paramref name="replica"/>, which publishes it to every
    /// member's read models; <paramref name="localStatus"/> is this member's status read model.
    /// </summary>
    public static NodeEvents Replicated(ActorSystem system, IActorRef replica, IActorRef localStatus) =>
        new(system, replica, replica) { _localStatus = localStatus, _replica = replica };

    private IActorRef? _replica;

    /// <summary>
    /// Cluster mode: a node entity started anew (a member died, shards moved) asks the registry for its settings and
    /// its member's read model for the record the fleet has of it, so it goes on as it was.
    /// </summary>
    public void Recall(string nodeKey, IActorRef node)
    {
        _localStatus?.Tell(new FindPreviousStatus(nodeKey), node);
        if (_registry is null && ActorRegistry.For(system).TryGet<NodeRegistryActor>(out var registry)) _registry = registry;
        _registry?.Tell(new RecallNode(nodeKey), node);
    }

    /// <summary>For tests and tools with no read models: everything published goes nowhere.</summary>
    public static NodeEvents Nowhere(ActorSystem system) => new(system, ActorRefs.Nobody, ActorRefs.Nobody);

    public void LatestChanged(LatestChanged changed, IActorRef node) => latest.Tell(changed, node);

    public void LatestRemoved(LatestRemoved removed, IActorRef node) => latest.Tell(removed, node);

    public void StatusChanged(NodeStatus changed, IActorRef node, string? replaces = null) =>
        status.Tell(new NodeStatusChanged(changed, replaces), node);

    public void Stopped(string nodeKey, IActorRef node) => status.Tell(new NodeStatusRemoved(nodeKey), node);

    // Transitions go to the event stream (rare: a node going down or coming up), where alert evaluation subscribes.
    public void WentDown(NodeWentDown down) => system.EventStream.Publish(down);

    public void CameUp(NodeCameUp up) => system.EventStream.Publish(up);

    private IActorRef? _alerts;

    /// <summary>
    /// A node's alert fired or resolved (rare, once per transition): to the alert book (found by its type in the
    /// ActorRegistry: it keeps the read model and saves the transition), and to the event stream.
    /// </summary>
    public void AlertChanged(Alert alert, IActorRef node)
    {
        var changed = new AlertChanged(alert);
        if (_alerts is null && ActorRegistry.For(system).TryGet<AlertBookActor>(out var book)) _alerts = book;
        _alerts?.Tell(changed, node);
        _replica?.Tell(new AlertSeen(alert), node);
        system.EventStream.Publish(changed);
    }

    /// <summary>
    /// To the registry (found by its marker type in the ActorRegistry). Without one (a one-shot tool, a test of the
    /// node actors alone) the node stays under its address, and knows its id.
    /// </summary>
    /// <returns>Whether a registry was told (and so may move the node).</returns>
    public bool Identified(IdentifyNode identified, IActorRef node)
    {
        if (_registry is null && ActorRegistry.For(system).TryGet<NodeRegistryActor>(out var registry)) _registry = registry;
        _registry?.Tell(identified, node);
        return _registry is not null;
    }
}
