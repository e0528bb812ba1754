using Akka.Actor;
using Akka.Cluster;
using Isems.Actors.Nodes;

namespace Isems.Actors.Cluster;

/// <summary>
/// Keeps the fleet's read models (<see cref="FleetLatestActor"/>, <see cref="FleetStatusActor"/>) alike on every member,
/// so any member answers <c>/measurements/latest</c> and <c>/nodes</c> for the whole fleet. This member's node entities
/// publish through it (<see cref="NodeEvents.Replicated"/>); each change goes to this member's read models and straight
/// to every other member's, with the entity as sender (the status read model knows each node's owner by it).
/// Direct rather than a DistributedPubSub topic: a topic's subscribers reach the other members by gossip, and what was
/// published before that was lost (seen here at start-up). When a member comes Up, the two replicas greet each other
/// with their read models (<see cref="ResyncFleet"/>); each then sends the other what it holds (its own nodes' status,
/// every newest row) and from then on every change. The greeting is repeated once, in case the other replica was not
/// started yet, and a replica greeted by one it did not know greets it back, so no start order leaves one side mute. A removed member's entries stay until the new owners of its nodes tell theirs: /nodes does not lose
/// them meanwhile, and an entity started anew goes on from them.
/// </summary>
public sealed class FleetReplicaActor : ReceiveActor, IWithTimers
{
    public const string Name = "fleet-replica";
    private static readonly TimeSpan GreetAgainAfter = TimeSpan.FromSeconds(5);

    private sealed record GreetAgain(Address Member);

    private readonly IActorRef _latest, _status;
    private readonly Dictionary<Address, ResyncFleet> _peers = new();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef latest, IActorRef status) => Akka.Actor.Props.Create(() => new FleetReplicaActor(latest, status));

    public FleetReplicaActor(IActorRef latest, IActorRef status)
    {
        _latest = latest;
        _status = status;

        // From this member's node entities (the sender is the entity): here and to every other member.
        Receive<LatestChanged>(m => ToAll(m, p => p.Latest, _latest));
        Receive<LatestRemoved>(m => ToAll(m, p => p.Latest, _latest));
        Receive<NodeStatusChanged>(m => ToAll(m, p => p.Status, _status));
        Receive<NodeStatusRemoved>(m => ToAll(m, p => p.Status, _status));
        // Saved and delivered by this member's alert book already: the others' books only keep it.
        Receive<Isems.Actors.Alerts.AlertSeen>(m =>
        {
            foreach (var peer in _peers.Values) peer.Alerts?.Forward(m);
        });

        Receive<ClusterEvent.MemberUp>(up => Greet(up.Member.Address, again: true));
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up)) Greet(member.Address, again: true);
        });
        Receive<GreetAgain>(again => Greet(again.Member, again: false));
        Receive<ClusterEvent.MemberRemoved>(removed => _peers.Remove(removed.Member.Address));
        // Another member's replica greets: from now on its read models get every change, and now what is held here.
        Receive<ResyncFleet>(peer =>
        {
            var address = Sender.Path.Address;
            if (address.HasLocalScope) return;
            var greetedBefore = _peers.ContainsKey(address);
            _peers[address] = peer;
            _status.Tell(new ResendOwnNodes(peer.Status));
            _latest.Tell(new ResendLatest(peer.Latest));
            // Greeted back by a replica that had not greeted this one: this one's greetings (at the other's MemberUp,
            // and 5 s later) may all have come before that replica was started, on a busy machine, and then the other
            // member would never send its changes here (its nodes missing from this member's /nodes). Once each way.
            if (!greetedBefore) Greet(address, again: false);
        });
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void ToAll(object change, Func<ResyncFleet, IActorRef> to, IActorRef local)
    {
        local.Forward(change);
        foreach (var peer in _peers.Values) to(peer).Forward(change);
    }

    private void Greet(Address member, bool again)
    {
        if (member.Equals(_cluster.SelfAddress)) return;
        // The alert book is registered after the node subsystem: found when first needed.
        Akka.Hosting.ActorRegistry.For(Context.System).TryGet<Isems.Actors.Alerts.AlertBookActor>(out var alerts);
        Context.ActorSelection(new RootActorPath(member) / "user" / Name).Tell(new ResyncFleet(_latest, _status, alerts));
        if (again) Timers.StartSingleTimer(("greet", member), new GreetAgain(member), GreetAgainAfter);
    }
}

/// <summary>From a member's replica to another's: these are my read models; send them what you hold, and every change.</summary>
/// <param name="Alerts">Its alert book, which keeps the alerts of the other members' nodes (their books save them).</param>
public sealed record ResyncFleet(IActorRef Latest, IActorRef Status, IActorRef? Alerts = null);
