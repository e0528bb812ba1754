using Akka.Actor;
using Akka.Event;
using Isems.Actors.Polling;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// Creates and finds the node actors by their one key and routes every <see cref="INodeMessage"/> to it. It keeps no
/// node state and no table of its own, as a cluster shard region does not: a node's actor is the child named after its
/// key (<see cref="IActorContext.Child"/>), so 100,000 nodes cost no dictionary entries and no death watch here. Only a
/// node actor on its way out (purged, or moved to its id) is watched, and what comes for its key meanwhile waits for it
/// to be gone, then goes to a new actor under the same name. The fleet-wide answers come from the read models beside
/// it (<see cref="FleetLatestActor"/>, <see cref="FleetStatusActor"/>), which the node actors keep current.
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

    private const string NodePrefix = "node-";

    private readonly IActorRef _writer;
    private readonly NodeLogFetcher _fetcher;
    private readonly PollingOptions _options;
    private readonly PollGate _gate;
    private readonly CollectorMetrics _metrics;
    private readonly NodeEvents _events;
    private readonly IActorRef _latest, _status;
    // By child name, the node actors on their way out, with what came for their key meanwhile (rare, and short-lived).
    private readonly Dictionary<string, (IActorRef Node, List<(object Message, IActorRef Sender)> Waiting)> _stopping = new(StringComparer.Ordinal);
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

        Receive<INodeMessage>(message => Route(message, Sender));
        // The nodes the database has rows of: each gets its actor, which loads its own state and answers with it.
        Receive<NodesFound>(found =>
        {
            foreach (var key in found.NodeKeys) GetOrCreate(ActorName(key), key);
        });
        Receive<Terminated>(terminated =>
        {
            // A node actor on its way out is gone: its name is free, and what waited for its key goes on now, in order.
            var name = terminated.ActorRef.Path.Name;
            if (!_stopping.Remove(name, out var stopping) || !stopping.Node.Equals(terminated.ActorRef)) return;
            foreach (var (message, sender) in stopping.Waiting) Route((INodeMessage)message, sender);
        });

        Receive<GetFleetLatest>(query => _latest.Forward(query));
        Receive<GetFleetStatus>(query => _status.Forward(query));
        Receive<FindNodeStatus>(query => _status.Forward(query));

        Receive<AwaitNodesStarted>(_ =>
        {
            // Not those on their way out: they will not answer, and the barrier would wait for its timeout.
            var nodes = Context.GetChildren()
                .Where(c => c.Path.Name.StartsWith(NodePrefix, StringComparison.Ordinal) && !_stopping.ContainsKey(c.Path.Name))
                .Select(c => (c.Path.Name, c)).ToList();
            Context.ActorOf(FleetQueryActor<NodeStarted>.Props(nodes, _ => IsNodeStarted.Instance,
                replies => new NodesStarted(replies.Count), Sender, StartBarrierTimeout));
        });
    }

    protected override void PreStart() => _loader?.Tell(FindSavedNodes.Instance);

    private void Route(INodeMessage message, IActorRef sender)
    {
        var name = ActorName(message.NodeKey);
        if (_stopping.Count > 0 && _stopping.TryGetValue(name, out var stopping))
        {
            stopping.Waiting.Add((message, sender));
            return;
        }
        switch (message)
        {
            case INodeQuery query:
                // A question about a node that exists: an unknown key gets an answer, not a new actor.
                var found = Context.Child(name);
                if (found.IsNobody()) sender.Tell(new NodeNotFound(query.NodeKey));
                else found.Tell(query, sender);
                break;
            case StopNode stop:
                var moving = Context.Child(name);
                if (moving.IsNobody()) return;
                Leaving(name, moving);
                moving.Tell(stop, sender);
                break;
            case RetireNode { PurgeRows: true } retire:
                // A purged node's actor is on its way out: what comes for its key from now on goes to a new actor.
                var purged = GetOrCreate(name, retire.NodeKey);
                purged.Tell(retire, sender);
                Leaving(name, purged);
                break;
            default:
                GetOrCreate(name, message.NodeKey).Tell(message, sender);
                break;
        }
    }

    /// <summary>The node actor stops by itself soon: it is watched until then (the only ones watched).</summary>
    private void Leaving(string name, IActorRef node)
    {
        Context.Watch(node);
        _stopping[name] = (node, []);
    }

    private IActorRef GetOrCreate(string name, string key)
    {
        var node = Context.Child(name);
        return node.IsNobody()
            ? Context.ActorOf(NodeActor.Props(key, _writer, _fetcher, _gate, _options, _events, _metrics, null, _loader), name)
            : node;
    }

    /// <summary>Node ids may hold any character but '/' and control characters; actor names may not.</summary>
    private static string ActorName(string key) => NodePrefix + Uri.EscapeDataString(key);
}
