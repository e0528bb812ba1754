using Akka.Actor;
using Akka.Event;
using Isems.Actors.Polling;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// Creates and finds the node actors by their one key and routes every <see cref="INodeMessage"/> to it. It keeps no
/// node state of its own and no aliases, only the routing table, which is why a cluster shard region can later take
/// its place. The fleet-wide answers come from the read models beside it (<see cref="FleetLatestActor"/>,
/// <see cref="FleetStatusActor"/>), which the node actors keep current.
/// </summary>
public sealed class NodeManagerActor : ReceiveActor
{
    /// <summary>How long the start barrier waits for slow nodes before answering with the others.</summary>
    public static readonly TimeSpan FleetQueryTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The start barrier's own wait: each node actor answers once it has loaded its saved state and taken its start,
    /// which with 100,000 nodes on a busy machine takes longer than <see cref="FleetQueryTimeout"/>; ready before that
    /// would collect the start-up garbage too early.
    /// </summary>
    public static readonly TimeSpan StartBarrierTimeout = TimeSpan.FromSeconds(50);

    private readonly IActorRef _writer;
    private readonly NodeLogFetcher _fetcher;
    private readonly PollingOptions _options;
    private readonly PollGate _gate;
    private readonly CollectorMetrics _metrics;
    private readonly NodeEvents _events;
    private readonly IActorRef _latest, _status;
    private readonly Dictionary<string, IActorRef> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _keyOf = [];
    private int _incarnations;
    // Where each node actor asks for its saved state when it starts; none: the nodes start fresh.
    private readonly IActorRef? _loader;

    /// <param name="bookmarks">For tools without a database: the log bookmarks to resume from, by node key.</param>
    /// <param name="loader">A <see cref="NodeStateLoaderActor"/> the node actors ask for their saved state.</param>
    /// <param name="latest">The fleet's latest rows (a <see cref="FleetLatestActor"/>); made here when not given.</param>
    /// <param name="status">The fleet's status (a <see cref="FleetStatusActor"/>); made here when not given.</param>
    public static Props Props(IActorRef writer, NodeLogFetcher fetcher, PollingOptions options, CollectorMetrics? metrics = null,
        IReadOnlyCollection<LogBookmark>? bookmarks = null, IActorRef? latest = null, IActorRef? status = null, IActorRef? loader = null) =>
        Akka.Actor.Props.Create(() => new NodeManagerActor(writer, fetcher, options, metrics ?? CollectorMetrics.None,
            bookmarks, latest, status, loader));

    public NodeManagerActor(IActorRef writer, NodeLogFetcher fetcher, PollingOptions options, CollectorMetrics metrics,
        IReadOnlyCollection<LogBookmark>? bookmarks, IActorRef? latest, IActorRef? status, IActorRef? loader)
    {
        _loader = loader ?? (bookmarks is { Count: > 0 } ? Context.ActorOf(NodeStateLoaderActor.Props(bookmarks), "saved-state") : null);
        _metrics = metrics;
        _latest = latest ?? Context.ActorOf(FleetLatestActor.Props(), "latest");
        _status = status ?? Context.ActorOf(FleetStatusActor.Props(), "status");
        _events = new NodeEvents(Context.System, _latest, _status);
        _writer = writer;
        _fetcher = fetcher;
        _options = options;
        _gate = new PollGate(options.MaxConcurrentPolls);

        Receive<INodeQuery>(query =>
        {
            if (_byKey.TryGetValue(query.NodeKey, out var node)) node.Forward(query);
            else Sender.Tell(new NodeNotFound(query.NodeKey));
        });
        Receive<RetireNode>(retire =>
        {
            var node = GetOrCreate(retire.NodeKey);
            // A purged node's actor is on its way out: from now on its key routes to a new actor.
            if (retire.PurgeRows) Forget(node);
            node.Forward(retire);
        });
        Receive<StopNode>(stop =>
        {
            if (!_byKey.TryGetValue(stop.NodeKey, out var node)) return;
            Forget(node);
            node.Forward(stop);
        });
        Receive<StartPolling>(start =>
        {
            GetOrCreate(start.NodeKey).Forward(start);
        });
        Receive<INodeMessage>(message => GetOrCreate(message.NodeKey).Forward(message));
        // The nodes the database has rows of: each gets its actor, which loads its own state and answers with it.
        Receive<NodesFound>(found =>
        {
            foreach (var key in found.NodeKeys) GetOrCreate(key);
        });
        Receive<Terminated>(terminated => Forget(terminated.ActorRef));

        Receive<GetFleetLatest>(query => _latest.Forward(query));
        Receive<GetFleetStatus>(query => _status.Forward(query));
        Receive<FindNodeStatus>(query => _status.Forward(query));

        Receive<AwaitNodesStarted>(_ =>
        {
            var nodes = _keyOf.Select(kv => (kv.Value, kv.Key)).ToList();
            Context.ActorOf(FleetQueryActor<NodeStarted>.Props(nodes, _ => IsNodeStarted.Instance,
                replies => new NodesStarted(replies.Count), Sender, StartBarrierTimeout));
        });
    }

    protected override void PreStart() => _loader?.Tell(FindSavedNodes.Instance);

    private IActorRef GetOrCreate(string key)
    {
        if (_byKey.TryGetValue(key, out var node)) return node;
        node = Context.ActorOf(NodeActor.Props(key, _writer, _fetcher, _gate, _options, _events, _metrics, null, _loader), ActorName(key));
        Context.Watch(node);
        _byKey[key] = node;
        _keyOf[node] = key;
        return node;
    }

    private void Forget(IActorRef node)
    {
        if (_keyOf.Remove(node, out var key) && _byKey.TryGetValue(key, out var routed) && routed.Equals(node))
            _byKey.Remove(key);
    }

    /// <summary>
    /// Node ids may hold any character but '/' and control characters; actor names may not. A node re-added while its
    /// purged actor is still stopping gets a name of its own.
    /// </summary>
    private string ActorName(string key)
    {
        var name = "node-" + Uri.EscapeDataString(key);
        return Context.Child(name).IsNobody() ? name : $"{name}~{++_incarnations}";
    }
}
