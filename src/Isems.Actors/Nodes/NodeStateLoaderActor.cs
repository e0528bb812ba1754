using Akka.Actor;
using Akka.Event;
using Isems.Actors.Alerts;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// What the node actors saved before the last stop, read once for the whole fleet and handed to each node actor when
/// it asks for its own (<see cref="LoadNodeState"/>): where its log was read up to, its newest stored row and its
/// alerts still firing. Each node actor asks when it starts, as it must once a shard can start it in another process;
/// the loader only saves the database 100,000 single-row queries (three queries at start, whatever the fleet's size).
/// It never blocks: the database is read by a task piped back, and questions asked before that are stashed. Each
/// entry is handed out once and then dropped. A node actor that asks for a key the loader does not hold (one started
/// after start-up: moved to its id, added by an operator, restarted, or, with sharding, moved from another process)
/// gets its state read from its own rows (three small queries, a few at a time, retried while the database is away).
/// During start-up a key the fleet-wide read did not find had nothing saved, and is answered at once.
/// </summary>
public sealed class NodeStateLoaderActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private sealed record Loaded(NodeStartState State);
    private sealed record NotLoaded(string Reason);

    private static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(1), RetryMax = TimeSpan.FromSeconds(30);

    private sealed record OneLoaded(NodeStateLoaded State, IActorRef ReplyTo);
    private sealed record OneNotLoaded(string NodeKey, IActorRef ReplyTo, string Reason);
    private sealed record LoadOneAgain(string NodeKey, IActorRef ReplyTo);

    /// <summary>How many single-node reads run at once: a burst of nodes started together must not take every connection.</summary>
    private const int MaxReadsAtOnce = 4;

    private readonly Func<CancellationToken, Task<NodeStartState>> _load;
    private readonly Func<string, CancellationToken, Task<NodeStateLoaded>>? _loadOne;
    private readonly Queue<(string NodeKey, IActorRef ReplyTo)> _queued = new();
    private int _reading, _readFailures;
    // Until start-up is done: the fleet-wide read answers, and the keys already handed out (asked again: read one).
    private HashSet<string>? _handedOut = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Dictionary<string, LogBookmark> _bookmarks = new(StringComparer.Ordinal);
    // By the node id they name, the bookmarks saved under a node's address (the newest per id).
    private Dictionary<string, LogBookmark> _savedUnderAddress = new(StringComparer.Ordinal);
    private Dictionary<string, StoredMeasurement> _latest = new(StringComparer.Ordinal);
    private Dictionary<string, List<Alert>> _firing = new(StringComparer.Ordinal);
    private Dictionary<string, string>? _loggedIds;
    private int _failures;

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="store">Where the bookmarks, latest rows and alerts are read from.</param>
    public static Props Props(MeasurementStore store) =>
        Akka.Actor.Props.Create(() => new NodeStateLoaderActor(ct => NodeStartState.LoadAsync(store, ct),
            (key, ct) => NodeStartState.LoadOneAsync(store, key, ct)));

    /// <summary>For tools and benchmarks with no database: the bookmarks given, nothing else.</summary>
    public static Props Props(IReadOnlyCollection<LogBookmark> bookmarks) =>
        Akka.Actor.Props.Create(() => new NodeStateLoaderActor(
            _ => Task.FromResult(new NodeStartState(bookmarks, Array.Empty<StoredMeasurement>(), Array.Empty<Alert>())), null));

    /// <param name="loadOne">Reads one node's saved state; none (tools without a database): nothing was saved.</param>
    public NodeStateLoaderActor(
        Func<CancellationToken, Task<NodeStartState>> load, Func<string, CancellationToken, Task<NodeStateLoaded>>? loadOne)
    {
        _load = load;
        _loadOne = loadOne;
        Become(Loading);
    }

    protected override void PreStart() => Load();

    private void Load() => _load(CancellationToken.None).PipeTo(Self,
        success: state => new Loaded(state), failure: error => new NotLoaded(error.GetBaseException().Message));

    private void Loading()
    {
        Receive<Loaded>(loaded =>
        {
            Keep(loaded.State);
            Become(Answering);
            Stash.UnstashAll();
        });
        Receive<NotLoaded>(failed =>
        {
            // The database is away at start: the nodes wait for their state (polling from the start of a log would
            // store nothing twice, but fetch whole logs over the mesh), and readiness says the nodes are not started.
            var delay = Isems.Actors.Backoff.Exponential(RetryMin, RetryMax, _failures++);
            _log.Warning("Reading the nodes' saved state failed ({0}); trying again in {1:0.#} s", failed.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer("load", new RetryLoad(), delay);
        });
        Receive<RetryLoad>(_ => Load());
        ReceiveAny(_ => Stash.Stash());
    }

    private sealed record RetryLoad;

    private void Answering()
    {
        Receive<LoadNodeState>(load =>
        {
            if (_handedOut is null || !_handedOut.Add(load.NodeKey))
            {
                ReadOne(load.NodeKey, Sender);
                return;
            }
            // Saved under the node's key, or else under its address before it moved to its id (the bookmark names the
            // id). The latter is handed to both: the actor under the address may yet ask, read the id from it and
            // have the registry move the node (which then goes on from that actor's position).
            if (!_bookmarks.Remove(load.NodeKey, out var bookmark)) _savedUnderAddress.Remove(load.NodeKey, out bookmark);
            _latest.Remove(load.NodeKey, out var latest);
            _firing.Remove(load.NodeKey, out var firing);
            Sender.Tell(new NodeStateLoaded(load.NodeKey, bookmark, latest, firing));
            TrimWhenEmpty();
        });
        // The node manager starts an actor for every node the database has rows of (one that only pushed, or is no
        // longer configured, still answers with its latest data).
        Receive<FindSavedNodes>(_ => Sender.Tell(new NodesFound([.. _latest.Keys])));
        // Start-up is done: what no node actor asked for is dropped (a node started later is a fresh one).
        Receive<ForgetUnclaimedState>(_ =>
        {
            _bookmarks = new(StringComparer.Ordinal);
            _savedUnderAddress = new(StringComparer.Ordinal);
            _latest = new(StringComparer.Ordinal);
            _firing = new(StringComparer.Ordinal);
            _loggedIds = null;
            _handedOut = null;
            Sender.Tell(ForgetUnclaimedState.Instance);
        });
        Receive<OneLoaded>(loaded =>
        {
            _reading--;
            _readFailures = 0;
            loaded.ReplyTo.Tell(loaded.State);
            ReadQueued();
        });
        Receive<OneNotLoaded>(failed =>
        {
            // The database is away: the node waits for its state, as at start, and its read is tried again.
            _reading--;
            var delay = Isems.Actors.Backoff.Exponential(RetryMin, RetryMax, _readFailures++);
            _log.Warning("Reading the saved state of node {0} failed ({1}); trying again in {2:0.#} s", failed.NodeKey, failed.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer(("one", failed.NodeKey), new LoadOneAgain(failed.NodeKey, failed.ReplyTo), delay);
            ReadQueued();
        });
        Receive<LoadOneAgain>(again => ReadOne(again.NodeKey, again.ReplyTo));
        Receive<GetLoggedIds>(_ => Sender.Tell(new LoggedIds(_loggedIds)));
    }

    /// <summary>A node's state read from its own rows, a few nodes at a time; the answer goes to the node actor.</summary>
    private void ReadOne(string key, IActorRef replyTo)
    {
        if (_loadOne is null)
        {
            replyTo.Tell(new NodeStateLoaded(key, null, null, null));
            return;
        }
        if (_reading >= MaxReadsAtOnce)
        {
            _queued.Enqueue((key, replyTo));
            return;
        }
        _reading++;
        _loadOne(key, CancellationToken.None).PipeTo(Self,
            success: state => new OneLoaded(state, replyTo),
            failure: error => new OneNotLoaded(key, replyTo, error.GetBaseException().Message));
    }

    private void ReadQueued()
    {
        while (_reading < MaxReadsAtOnce && _queued.TryDequeue(out var next)) ReadOne(next.NodeKey, next.ReplyTo);
    }

    private void Keep(NodeStartState state)
    {
        foreach (var bookmark in state.Bookmarks)
        {
            _bookmarks[bookmark.NodeKey] = bookmark;
            if (bookmark.NodeId is not { } id || id == bookmark.NodeKey) continue;
            if (!_savedUnderAddress.TryGetValue(id, out var other) || other.Offset < bookmark.Offset) _savedUnderAddress[id] = bookmark;
            if (Uri.TryCreate(bookmark.LogUrl, UriKind.Absolute, out var url))
                (_loggedIds ??= new(StringComparer.Ordinal)).TryAdd(url.AbsoluteUri, id);
        }
        foreach (var row in state.Latest) _latest[row.Measurement.NodeId] = row;
        foreach (var alert in state.Alerts)
            if (alert.State == AlertState.Firing)
            {
                if (!_firing.TryGetValue(alert.NodeId, out var list)) _firing[alert.NodeId] = list = [];
                list.Add(alert);
            }
    }

    /// <summary>Once every entry is handed out, the tables' room (100,000 entries at most) is given back too.</summary>
    private void TrimWhenEmpty()
    {
        if (_latest.Count == 0 && _latest.EnsureCapacity(0) > 0) _latest = new(StringComparer.Ordinal);
        if (_firing.Count == 0 && _firing.EnsureCapacity(0) > 0) _firing = new(StringComparer.Ordinal);
        if (_bookmarks.Count == 0 && _bookmarks.EnsureCapacity(0) > 0)
        {
            _bookmarks = new(StringComparer.Ordinal);
            _savedUnderAddress = new(StringComparer.Ordinal);
        }
    }
}

/// <summary>What the database held for the node actors at start.</summary>
public sealed record NodeStartState(IReadOnlyCollection<LogBookmark> Bookmarks, IReadOnlyList<StoredMeasurement> Latest, IReadOnlyList<Alert> Alerts)
{
    public static async Task<NodeStartState> LoadAsync(MeasurementStore store, CancellationToken ct)
    {
        var bookmarks = await store.BookmarksAsync(ct).ConfigureAwait(false);
        var latest = await store.LatestPerNodeAsync(ct).ConfigureAwait(false);
        var since = DateTimeOffset.UtcNow - AlertBookActor.ResolvedKept;
        var alerts = AlertBookActor.FromStore(await store.AlertsAsync(since.ToUnixTimeMilliseconds(), ct).ConfigureAwait(false));
        return new NodeStartState(bookmarks, latest, alerts);
    }

    /// <summary>
    /// One node's saved state, read from its own rows: its bookmark (under its key, or else the furthest one saved
    /// under an address whose lines carry it as their id), its newest row and its alerts still firing.
    /// </summary>
    public static async Task<NodeStateLoaded> LoadOneAsync(MeasurementStore store, string key, CancellationToken ct)
    {
        var bookmarks = await store.BookmarksOfAsync(key, ct).ConfigureAwait(false);
        var bookmark = bookmarks.FirstOrDefault(b => b.NodeKey == key) ?? bookmarks.Where(b => b.NodeId == key).MaxBy(b => b.Offset);
        var latest = await store.HistoryAsync(key, 1, ct).ConfigureAwait(false);
        var firing = AlertBookActor.FromStore(await store.FiringAlertsAsync(key, ct).ConfigureAwait(false));
        return new NodeStateLoaded(key, bookmark, latest.Count > 0 ? latest[0] : null, firing.Count > 0 ? firing : null);
    }
}
