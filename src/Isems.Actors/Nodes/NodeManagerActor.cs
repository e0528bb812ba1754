using Akka.Actor;
using Akka.Event;
using Isems.Actors.Polling;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// Creates and finds the node actors by key and answers fleet-wide questions by asking them. It keeps no node
/// state of its own, only the routing table, which is why a cluster shard region can later take its place.
/// </summary>
public sealed class NodeManagerActor : ReceiveActor
{
    /// <summary>How long a fleet-wide question waits for slow nodes before answering with the others.</summary>
    public static readonly TimeSpan FleetQueryTimeout = TimeSpan.FromSeconds(3);

    private readonly IActorRef _writer;
    private readonly NodeLogFetcher _fetcher;
    private readonly PollingOptions _options;
    private readonly PollGate _gate;
    private readonly CollectorMetrics _metrics;
    private readonly IActorRef _latest;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _keyOf = [];
    private readonly HashSet<string> _polledKeys = new(StringComparer.Ordinal);
    private int _incarnations;
    // Handed to each node actor as it is created, once: where its log was read up to before the last stop.
    private readonly Dictionary<string, LogBookmark> _bookmarks;
    // The node ids the bookmarked logs carry, by id: a node's restored data goes to the actor that polls its log, not
    // to an actor of its own that the first poll would then have to hand over (twice the actors until then).
    private readonly Dictionary<string, string> _keyOfLoggedId;

    /// <param name="bookmarks">The log bookmarks saved before the last stop, by node key.</param>
    public static Props Props(IActorRef writer, NodeLogFetcher fetcher, PollingOptions options, CollectorMetrics? metrics = null,
        IReadOnlyCollection<LogBookmark>? bookmarks = null) =>
        Akka.Actor.Props.Create(() => new NodeManagerActor(writer, fetcher, options, metrics ?? CollectorMetrics.None, bookmarks ?? Array.Empty<LogBookmark>()));

    public NodeManagerActor(IActorRef writer, NodeLogFetcher fetcher, PollingOptions options, CollectorMetrics metrics,
        IReadOnlyCollection<LogBookmark> bookmarks)
    {
        _bookmarks = bookmarks.ToDictionary(b => b.NodeKey, StringComparer.Ordinal);
        _keyOfLoggedId = bookmarks.Where(b => b.NodeId is not null && b.NodeId != b.NodeKey)
            .GroupBy(b => b.NodeId!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().NodeKey, StringComparer.Ordinal);
        _metrics = metrics;
        _latest = Context.ActorOf(FleetLatestActor.Props(), "latest");
        _writer = writer;
        _fetcher = fetcher;
        _options = options;
        _gate = new PollGate(options.MaxConcurrentPolls);

        Receive<INodeQuery>(query =>
        {
            if (_byKey.TryGetValue(query.NodeKey, out var node)) node.Forward(query);
            else Sender.Tell(new NodeNotFound(query.NodeKey));
        });
        Receive<StartPolling>(start =>
        {
            _polledKeys.Add(start.NodeKey);
            GetOrCreate(start.NodeKey).Forward(start);
        });
        Receive<RetireNode>(retire =>
        {
            var node = GetOrCreate(retire.NodeKey);
            // A purged node's actor is on its way out: from now on its key and id route to a new actor.
            if (retire.PurgeRows) Forget(node);
            else _polledKeys.Remove(retire.NodeKey);
            node.Forward(retire);
        });
        Receive<RestoreLatest>(restore => OfNodeId(restore.NodeKey).Forward(restore));
        Receive<INodeMessage>(message => GetOrCreate(message.NodeKey).Forward(message));
        Receive<Terminated>(terminated => Forget(terminated.ActorRef));

        Receive<NodeIdLearned>(learned =>
        {
            if (_byKey.TryAdd(learned.NodeId, Sender)) return;
            var existing = _byKey[learned.NodeId];
            if (existing.Equals(Sender)) return;
            if (_keyOf.TryGetValue(existing, out var existingKey) && !_polledKeys.Contains(existingKey))
            {
                // The node's data was restored (or pushed) before its poll told who it is: one actor per node.
                _byKey[learned.NodeId] = Sender;
                _keyOf.Remove(existing);
                existing.Tell(new HandOver(Sender));
                return;
            }
            _log.Warning("Node id {0} is served at {1} and at {2}; both are polled", learned.NodeId, learned.NodeKey, existingKey);
        });

        Receive<GetFleetLatest>(query => _latest.Forward(query));

        Receive<AwaitNodesStarted>(_ => AskFleet<NodeStarted>(
            _ => IsNodeStarted.Instance,
            replies => new NodesStarted(replies.Count)));

        Receive<GetFleetStatus>(_ => AskFleet<NodeStatus>(
            key => new GetNodeStatus(key),
            replies => new FleetStatus(replies.OrderBy(s => s.NodeId ?? s.NodeKey, StringComparer.Ordinal).ToList())));
    }

    /// <summary>The actor of a node id: the one that polls the log its lines came from, when a bookmark says which.</summary>
    private IActorRef OfNodeId(string nodeId)
    {
        if (_byKey.TryGetValue(nodeId, out var node)) return node;
        if (!_keyOfLoggedId.Remove(nodeId, out var key)) return GetOrCreate(nodeId);
        node = GetOrCreate(key);
        _byKey[nodeId] = node;
        return node;
    }

    private IActorRef GetOrCreate(string key)
    {
        if (_byKey.TryGetValue(key, out var node)) return node;
        _bookmarks.Remove(key, out var bookmark);
        node = Context.ActorOf(NodeActor.Props(key, _writer, _fetcher, _gate, _options, _latest, _metrics, bookmark), ActorName(key));
        Context.Watch(node);
        _byKey[key] = node;
        _keyOf[node] = key;
        return node;
    }

    private void Forget(IActorRef node)
    {
        if (_keyOf.Remove(node, out var key)) _polledKeys.Remove(key);
        foreach (var routed in _byKey.Where(kv => kv.Value.Equals(node)).Select(kv => kv.Key).ToList())
            _byKey.Remove(routed);
    }

    private void AskFleet<TReply>(Func<string, object> question, Func<IReadOnlyList<TReply>, object> answer)
    {
        var nodes = _keyOf.Select(kv => (kv.Value, kv.Key)).ToList();
        Context.ActorOf(FleetQueryActor<TReply>.Props(nodes, question, answer, Sender, FleetQueryTimeout));
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
