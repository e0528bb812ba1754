using Akka.Actor;
using Akka.Cluster.Sharding;
using Isems.Actors.Nodes;

namespace Isems.Actors.Cluster;

/// <summary>
/// Cluster mode's <see cref="NodeManagerActor"/>: what is sent to the node manager's marker comes here and goes on as
/// in one process. A node's messages go to the shard region, which finds the node's entity on whichever member owns
/// it; a question about a node goes there only if the fleet knows the node; the fleet-wide questions go to this
/// member's read models. Holds no state.
/// </summary>
public sealed class NodeRouterActor : ReceiveActor, IWithTimers
{
    /// <summary>
    /// After this, the loader drops the fleet-wide read it made at start (what no entity here asked for by then): the
    /// entities that start on this member later (a member died, shards moved) have their state read from their rows,
    /// which are newer than that read.
    /// </summary>
    public static readonly TimeSpan ForgetStartStateAfter = TimeSpan.FromSeconds(60);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef region, IActorRef latest, IActorRef status, IActorRef loader) =>
        Akka.Actor.Props.Create(() => new NodeRouterActor(region, latest, status, loader));

    public NodeRouterActor(IActorRef region, IActorRef latest, IActorRef status, IActorRef loader)
    {
        Receive<INodeQuery>(query => status.Forward(new RouteIfKnown(query, region)));
        Receive<INodeMessage>(message => region.Forward(message));
        Receive<GetFleetLatest>(query => latest.Forward(query));
        Receive<GetFleetStatus>(query => status.Forward(query));
        Receive<FindNodeStatus>(query => status.Forward(query));
        // The one-process start barrier: here each entity loads its own state wherever it starts; nothing to wait for.
        Receive<AwaitNodesStarted>(_ => Sender.Tell(new NodesStarted(0)));
        // The nodes the database has rows of get their entity (started, and remembered, by the shard that owns each),
        // so they are listed as in one process. Every member asks: a running entity is not started twice.
        Receive<NodesFound>(found =>
        {
            foreach (var key in found.NodeKeys) region.Tell(new ShardRegion.StartEntity(key));
        });
        Receive<ForgetUnclaimedState>(forget =>
        {
            if (Sender.Equals(loader)) return; // the loader's answer
            loader.Tell(forget);
        });
        // The regions' acknowledgements of those starts (a type Akka keeps internal): nothing to do.
        ReceiveAny(_ => { });
        _loader = loader;
    }

    private readonly IActorRef _loader;

    protected override void PreStart()
    {
        _loader.Tell(FindSavedNodes.Instance);
        Timers.StartSingleTimer("forget", ForgetUnclaimedState.Instance, ForgetStartStateAfter);
    }
}
