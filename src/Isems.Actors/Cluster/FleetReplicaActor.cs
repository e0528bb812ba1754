using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Isems.Actors.Nodes;

namespace Isems.Actors.Cluster;

/// <summary>
/// Keeps the fleet's read models (<see cref="FleetLatestActor"/>, <see cref="FleetStatusActor"/>) alike on every member,
/// so any member answers <c>/measurements/latest</c> and <c>/nodes</c> for the whole fleet. The node entities of this
/// member publish through it (<see cref="NodeEvents.Replicated"/>); it publishes each change on a DistributedPubSub
/// topic that every member's read model subscribes to, with the entity as sender (the status read model knows each
/// node's owner by it). A member that joins is told the current state by each member (its own nodes), twice, as the
/// topics' subscriptions reach the others by gossip; a member that is removed has its entries dropped, until the new
/// owners of its nodes tell them.
/// </summary>
public sealed class FleetReplicaActor : ReceiveActor, IWithTimers
{
    public const string LatestTopic = "isems-fleet-latest", StatusTopic = "isems-fleet-status";
    public const string Name = "fleet-replica";
    private static readonly TimeSpan AskAgainAfter = TimeSpan.FromSeconds(5);

    private sealed record AskAgain(Address Member);

    private readonly IActorRef _mediator;
    private readonly IActorRef _latest, _status;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef latest, IActorRef status) => Akka.Actor.Props.Create(() => new FleetReplicaActor(latest, status));

    public FleetReplicaActor(IActorRef latest, IActorRef status)
    {
        _latest = latest;
        _status = status;
        _mediator = DistributedPubSub.Get(Context.System).Mediator;

        // From this member's node entities (the sender is the entity): to every member's read model.
        Receive<LatestChanged>(m => _mediator.Forward(new Publish(LatestTopic, m)));
        Receive<LatestRemoved>(m => _mediator.Forward(new Publish(LatestTopic, m)));
        Receive<NodeStatusChanged>(m => _mediator.Forward(new Publish(StatusTopic, m)));
        Receive<NodeStatusRemoved>(m => _mediator.Forward(new Publish(StatusTopic, m)));
        Receive<SubscribeAck>(_ => { });

        // Another member joined: ask it for what it holds (its nodes), now and once more when the topics have spread.
        Receive<ClusterEvent.MemberUp>(up => Joined(up.Member));
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up)) Joined(member);
        });
        Receive<AskAgain>(again => AskForFleet(again.Member));
        Receive<ClusterEvent.MemberRemoved>(removed => _status.Tell(new ForgetMember(removed.Member.Address)));
        // Another member asks: its read models are told what this member's entities own, and every newest row here.
        Receive<ResyncFleet>(resync =>
        {
            _status.Tell(new ResendOwnNodes(resync.Status));
            _latest.Tell(new ResendLatest(resync.Latest));
        });
    }

    protected override void PreStart()
    {
        _mediator.Tell(new Subscribe(LatestTopic, _latest));
        _mediator.Tell(new Subscribe(StatusTopic, _status));
        _cluster.Subscribe(Self, ClusterEvent.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Joined(Member member)
    {
        if (member.Address.Equals(_cluster.SelfAddress)) return;
        AskForFleet(member.Address);
        Timers.StartSingleTimer(("again", member.Address), new AskAgain(member.Address), AskAgainAfter);
    }

    private void AskForFleet(Address member) =>
        Context.ActorSelection(new RootActorPath(member) / "user" / Name).Tell(new ResyncFleet(_latest, _status));
}

/// <summary>From a member's replica to another's: tell these read models what you hold.</summary>
public sealed record ResyncFleet(IActorRef Latest, IActorRef Status);
