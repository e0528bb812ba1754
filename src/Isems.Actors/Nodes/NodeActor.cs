using Akka.Actor;
using Akka.Event;
using Isems.Actors.Alerts;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// One solar node, under its one key: its id, or for a node known only by its address, the address until its first
/// good poll tells the id (then the registry moves it to an actor under the id). The actor handles messages and
/// timers; its decisions are plain state it owns: <see cref="PollCycle"/> (what comes after an attempt),
/// <see cref="NodeHealth"/> (up, down, counters), <see cref="PushedLines"/> (pushed lines on their way, each once),
/// and what it publishes leaves through <see cref="NodeEvents"/>. Fetches run as tasks piped back as messages; lines
/// go to the writer, and only once they are committed does the offset move on, so a failed write is fetched again.
/// An <see cref="UntypedActor"/> with one switch, unlike the collector's other actors: there is one per node, up to
/// 100,000 in a process, and a <see cref="ReceiveActor"/> builds its handler tables for every instance.
/// </summary>
public sealed class NodeActor : UntypedActor, IWithTimers
{
    private sealed record SlotGranted;
    private sealed record Fetched(FetchResult Result);

    private const string IdentifyTimer = "identify";
    private sealed record IdentifyAgain;

    // Collaborators, shared or given
    private readonly string _key;
    private readonly IActorRef _writer;
    private readonly NodeLogFetcher _fetcher;
    private readonly PollGate _gate;
    private readonly PollingOptions _options;
    private readonly CollectorMetrics _metrics;
    private readonly NodeEvents _events;
    private ILoggingAdapter? _logger; // made when first needed: a node that never logs never pays for one
    private ILoggingAdapter Log => _logger ??= Context.GetLogger();

    // The node's own state: configuration, its decisions, and what is under way
    private string? _nodeId;
    private readonly NodeLog _log;
    private bool _enabled = true;
    private readonly PollCycle _cycle;
    private NodeHealth? _healthKept; // made when the node is first polled or pushes: most of a large idle fleet never is
    private NodeHealth Health => _healthKept ??= new();
    private NodeHealth HealthNow => _healthKept ?? NodeHealth.Fresh; // to read without making one
    private PollTrace? _trace; // the poll's spans, only while a tracer listens
    private PushedLines? _pushed; // made when the node first pushes
    private bool _holdingSlot;
    private long _correlation;
    private List<IActorRef>? _waiters; // polls asked for by hand, answered when the attempt ends
    private IActorRef? _retireReplyTo;
    private StoredMeasurement? _latest;
    private NodeDeadlines _deadlines = null!; // made in PreStart: the next poll, silence and down checks, on one timer
    private NodeAlertWatch _watch = null!; // made in PreStart, on the deadlines

    public ITimerScheduler Timers { get; set; } = null!;

    // What arrived before the saved state (rare: the registry's start, a question), made only then. No stash: an
    // IWithUnboundedStash actor gets a deque mailbox and a stash buffer each, hundreds of bytes a node for 100,000
    // nodes that almost never need them.
    private List<(object Message, IActorRef Sender)>? _early;
    private IActorRef? _replaying; // the sender of the early message handled now, in place of Sender
    private IActorRef ReplyTo => _replaying ?? Sender;

    // Asked for the node's saved state when the actor starts (none: it starts fresh, as in tests and tools).
    private readonly IActorRef? _loader;

    /// <param name="events">Where the node's changes go: the read models, the registry, the event stream.</param>
    /// <param name="resumeFrom">Where the node's log was read up to before the collector last stopped.</param>
    public static Props Props(
        string nodeKey, IActorRef writer, NodeLogFetcher fetcher, PollGate gate, PollingOptions options, NodeEvents events,
        CollectorMetrics? metrics = null, LogBookmark? resumeFrom = null, IActorRef? loader = null)
    {
        // A producer, not an expression: Akka reads an expression's arguments by reflection and makes the actor with
        // Activator.CreateInstance, which for 100,000 nodes was a good part of the start-up's CPU.
        return Akka.Actor.Props.CreateBy(new Producer(nodeKey, writer, fetcher, gate, options, events, metrics ?? CollectorMetrics.None, resumeFrom, loader));
    }

    private sealed class Producer(
        string nodeKey, IActorRef writer, NodeLogFetcher fetcher, PollGate gate, PollingOptions options, NodeEvents events,
        CollectorMetrics metrics, LogBookmark? resumeFrom, IActorRef? loader) : IIndirectActorProducer
    {
        public Type ActorType => typeof(NodeActor);

        public ActorBase Produce() => new NodeActor(nodeKey, writer, fetcher, gate, options, events, metrics, resumeFrom, loader);

        public void Release(ActorBase actor) { }
    }

    public NodeActor(
        string nodeKey, IActorRef writer, NodeLogFetcher fetcher, PollGate gate, PollingOptions options, NodeEvents events,
        CollectorMetrics metrics, LogBookmark? resumeFrom, IActorRef? loader)
    {
        _log = new NodeLog(nodeKey, resumeFrom);
        _loader = loader;
        _metrics = metrics;
        _events = events;
        _key = nodeKey;
        _writer = writer;
        _fetcher = fetcher;
        _gate = gate;
        _options = options;
        _nodeId = LineParser.IsValidNodeId(nodeKey) ? nodeKey : null;
        _cycle = new PollCycle(nodeKey, options);
    }

    protected override void OnReceive(object message)
    {
        if (HandledPushedWrite(message)) return;
        switch (message)
        {
            case StartPolling { MovedFrom: { } moved } start:
                TakeUp(moved);
                // Sharded: the node's last attempt under its address counts here, so a move after a member's death
                // polls at once if the node's slot has passed.
                if (_options.Sharded) _attemptedBefore = moved.Status.LastAttempt;
                OnStartPolling(start);
                _events.StatusChanged(Status(), Self, replaces: moved.Status.NodeKey);
                break;
            case StartPolling start:
                var logged = _log.LoggedId(start.LogUrl);
                var identifies = IdentifiesFromBookmark(logged);
                // A node about to be moved by its bookmark's id polls under that id, not here first.
                if (identifies) Identity.Hold();
                OnStartPolling(start);
                PublishStatus();
                if (identifies)
                {
                    _nodeId = logged;
                    Identify();
                }
                break;
            case IdentifyAgain:
                // The registry has not moved the node yet (it may be away): polls go on here meanwhile.
                ReleasePolls();
                if (_nodeId is not null && _nodeId != _key) Identify();
                break;
            case IdentityKept:
                Timers.Cancel(IdentifyTimer);
                ReleasePolls();
                break;
            case StopPolling stop:
                _log.Use(stop.LogUrl);
                _enabled = false;
                Disarm();
                PublishStatus();
                break;
            case RetireNode retire:
                Retire(retire);
                break;
            case StopNode stop:
                // The node moved to its id: pushed lines still being written are offered again by their senders.
                _pushed?.FailAll("the node moved to its id");
                // A poll asked for by the address as the node moved is handed on to the node under its id, which the
                // registry has already started (it asks for the start before this stop), so its asker gets that answer.
                // Sharded: to the region itself, as the node under its id may not be in this member's read model yet.
                var nodes = _options.Sharded ? Akka.Hosting.ActorRegistry.For(Context.System).Get<Cluster.ClusterHosting.NodeRegion>() : Context.Parent;
                foreach (var waiter in TakeWaiters()) nodes.Tell(new PollNow(stop.MovedTo), waiter);
                StopForGood();
                break;
            case NodeDeadlines.WakeUp:
                WokeUp();
                break;
            case PollNow:
                OnPollNow();
                break;
            case SlotGranted:
                Fetch();
                break;
            case Fetched fetched:
                OnFetched(fetched.Result);
                break;
            case LinesWritten written when _log.IsWriting(written.CorrelationId):
                OnLinesWritten(written);
                break;
            case LinesNotWritten failed when _log.IsWriting(failed.CorrelationId):
                // The database is away, not the node: the node keeps its state, and the lines are fetched again next time.
                _log.NotWritten();
                _metrics.Poll("not_stored");
                EndAttempt(false, 0, 0, RejectionCounts.None, $"lines not stored: {failed.Reason}", nodeFailed: false);
                break;
            case IngestLines ingest:
                OnIngest(ingest);
                break;
            case MuteAlerts mute:
                Tell(_watch.Muted(mute.AlertNames, HealthNow.FailingSince is not null, Now, AlertNodeId));
                break;
            case GetNodeStatus:
                ReplyTo.Tell(Status());
                break;
            case PreviousStatus previous:
                GoOnFrom(previous.Status);
                break;
            case IsNodeStarted:
                ReplyTo.Tell(NodeStarted.Instance);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PreStart()
    {
        _deadlines = new NodeDeadlines(Timers);
        _watch = new NodeAlertWatch(new NodeAlerts(_options.Alerts), _deadlines);
        // A sharded entity may start anywhere, untold (remembered after a member's death): it asks for its settings
        // and for the record the fleet has of it.
        if (_options.Sharded) _events.Recall(_key, Self);
        if (_loader is null) return;
        _loader.Tell(new LoadNodeState(_key));
        Become(Loading);
    }

    /// <summary>
    /// Until its saved state is here, the node holds every message: a poll must resume where the log was read up to,
    /// and the API must see the node's newest row before anything newer.
    /// </summary>
    private void Loading(object message)
    {
        switch (message)
        {
            case NodeStateLoaded loaded:
                if (loaded.Bookmark is { } bookmark) _log.Saved(bookmark);
                if (loaded.Firing is { } firing) _watch.Restored(firing);
                if (loaded.Latest is { } latest)
                {
                    RememberLatest(latest);
                    // A node moved here from its address takes up what was observed there instead: a row stored
                    // there as it moved is read again here, and its alerts are evaluated once, here.
                    if (_early?.Exists(e => e.Message is StartPolling { MovedFrom: not null }) != true) _watch.Restored(latest, Now);
                }
                // Told once: a start waiting among the early messages tells the status as it is then.
                if (loaded.Latest is not null && _early?.Exists(e => e.Message is StartPolling) != true) PublishStatus();
                Loaded();
                break;
            case StartPolling { MovedFrom: { } moved }:
                // Moved here from its address: listed under its id at once, with the record it had there, while its
                // saved state is read (from its rows, after start-up), so /nodes shows it throughout.
                _events.StatusChanged(moved.Status with { NodeKey = _key }, Self, replaces: moved.Status.NodeKey);
                (_early ??= []).Add((message, Sender));
                break;
            default:
                (_early ??= []).Add((message, Sender));
                break;
        }
    }

    /// <summary>The early messages are handled now, in their order and before anything that came after the state.</summary>
    private void Loaded()
    {
        Become(OnReceive);
        if (_early is not { } early) return;
        _early = null;
        foreach (var (message, sender) in early)
        {
            _replaying = sender;
            // An early removal makes the node retire: what came after it goes where it would have gone.
            try { if (_retireReplyTo is null) OnReceive(message); else Retiring(message); }
            finally { _replaying = null; }
        }
    }

    private void OnStartPolling(StartPolling start)
    {
        _log.Use(start.LogUrl);
        _enabled = true;
        _cycle.Configure(start.Settings?.Interval, start.Settings?.Timeout);
        if (_cycle.Fetching) return;
        if (start.PollAtOnce && _options.Scheduled)
        {
            _cycle.StartsNow();
            StartAttempt();
        }
        else ScheduleNextCycle();
        CatchUp();
    }

    /// <summary>
    /// Stops for good. A sharded entity that only stopped would be started again by its shard (it is remembered), so
    /// it asks its shard to passivate it.
    /// </summary>
    private bool _stoppingForGood;

    private void StopForGood()
    {
        _stoppingForGood = true;
        if (_options.Sharded) Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
        else Context.Stop(Self);
    }

    // Cluster mode: when the node was last attempted by the entity before this one (on another member), until used.
    private DateTimeOffset? _attemptedBefore;

    /// <summary>
    /// Cluster mode: the entity started anew goes on from the fleet's record of the node under its key (counters,
    /// health, when it was last attempted), as the entity before it left it.
    /// </summary>
    private void GoOnFrom(NodeStatus? before)
    {
        if (before is null || HealthNow.Polls > 0) return;
        Health.TakeUp(before);
        if (before.Latest is { } latest) RememberLatest(latest);
        _attemptedBefore = before.LastAttempt;
        // A node still under its address whose id the entity before had learned tells the registry now, as after a
        // first good poll: that entity's identification may have been lost with its member, and a poll here would
        // not tell it again (the id is known).
        if (before.NodeId is { } id && id != _key && (_nodeId is null || _nodeId == id))
        {
            _nodeId = id;
            Identify();
        }
        CatchUp();
        PublishStatus();
    }

    /// <summary>
    /// Cluster mode: an entity that took over a node whose slot of the interval has passed since its last attempt (its
    /// member died) polls at once, so the node misses no cycle; otherwise it keeps to its slot (a rebalance).
    /// </summary>
    private void CatchUp()
    {
        if (_attemptedBefore is not { } last || !PollsOnSchedule) return;
        _attemptedBefore = null;
        if (_cycle.Fetching || Now - last < _cycle.Interval) return;
        _cycle.StartsNow();
        StartAttempt();
    }

    /// <summary>
    /// The node was moved here from its address: its record there (health, counters, newest row, where its log was
    /// read up to) comes with the registry's message, as plain data, so the node goes on as it was.
    /// </summary>
    private void TakeUp(NodeSnapshot moved)
    {
        Health.TakeUp(moved.Status);
        if (moved.Status.Latest is { } latest) RememberLatest(latest);
        if (moved.Alerts is { } alerts)
        {
            // The alerts go on as they were under the address: firing ones are not told again; silence counts on.
            _watch.TakeUp(alerts, Now);
        }
        // Read on exactly from where the actor under the address stopped, as it would have.
        _log.TakeUp(moved.Position);
    }

    /// <summary>
    /// A node under its address whose log was read before the last stop knows its id from that read (the bookmark
    /// names it): the registry is told at once, as after a first good poll, so the node does not wait for its slot
    /// to be one node again.
    /// </summary>
    private bool IdentifiesFromBookmark(string? logged) => _nodeId is null && logged is not null && logged != _key;

    /// <summary>
    /// Tells the registry the node's id, and again with backoff until it moves the node (this actor stops) or answers
    /// that it stays; polls wait meanwhile as <see cref="NodeIdentity"/> decides. Waiting askers go with the node.
    /// </summary>
    private void Identify()
    {
        var told = _events.Identified(new IdentifyNode(_key, _nodeId!, Snapshot()), Self);
        var again = Identity.Told(told, out var pollNow);
        if (pollNow && !_cycle.Fetching) StartAttempt();
        Timers.StartSingleTimer(IdentifyTimer, new IdentifyAgain(), again);
    }

    private NodeIdentity? _identity; // made when the node learns its id: most nodes never do
    private NodeIdentity Identity => _identity ??= new();

    private void ReleasePolls()
    {
        if (_identity?.Release() == true && !_cycle.Fetching) StartAttempt();
    }

    private NodeSnapshot Snapshot() => new(Status(), _log.Bookmark(_nodeId), _watch.Carry());

    private void OnPollNow()
    {
        if (_log.Url is null)
        {
            ReplyTo.Tell(Outcome(false, 0, 0, RejectionCounts.None, "the node is not polled: it has no log URL"));
            return;
        }
        (_waiters ??= []).Add(ReplyTo);
        if (!_cycle.Fetching) StartAttempt();
    }

    private List<IActorRef> TakeWaiters()
    {
        var waiters = _waiters ?? [];
        _waiters = null;
        return waiters;
    }

    private void Retire(RetireNode retire)
    {
        Disarm();
        _log.Forget();
        _enabled = true;
        var removed = Outcome(false, 0, 0, RejectionCounts.None, "the node was removed");
        foreach (var waiter in TakeWaiters()) waiter.Tell(removed);
        if (!retire.PurgeRows)
        {
            // Like a node only known from the database: its latest data stays visible, nothing is fetched.
            ReplyTo.Tell(new NodeRetired(_key, _nodeId, 0));
            PublishStatus();
            return;
        }
        if (_nodeId is null)
        {
            ReplyTo.Tell(new NodeRetired(_key, null, 0));
            StopForGood();
            return;
        }
        // The writer deletes after every line queued before, so nothing of this node is written after the purge.
        _retireReplyTo = ReplyTo;
        _writer.Tell(new DeleteNodeRows(_nodeId, ++_correlation, _key));
        Become(Retiring);
    }

    private void Retiring(object message)
    {
        // Pushed lines already on their way are committed before the deletion (the writer keeps the order): their
        // senders are answered, so the broker is not left waiting for acknowledgements.
        if (HandledPushedWrite(message)) return;
        switch (message)
        {
            case NodeRowsDeleted deleted:
                _events.LatestRemoved(new LatestRemoved(_nodeId!), Self);
                _retireReplyTo!.Tell(new NodeRetired(_key, _nodeId, deleted.Rows));
                StopForGood();
                break;
            case IngestLines ingest:
                ReplyTo.Tell(new LinesNotIngested(_key, ingest.Tag, "the node is being removed"));
                break;
        }
    }

    /// <summary>The writer's answer for pushed lines, in every state: their senders are waiting for it.</summary>
    private bool HandledPushedWrite(object message)
    {
        switch (message)
        {
            case LinesWritten written when _pushed?.IsWriting(written.CorrelationId) == true:
                OnIngested(written);
                return true;
            case LinesNotWritten failed when _pushed?.IsWriting(failed.CorrelationId) == true:
                _pushed.NotWritten(failed);
                // What its pushes counted meanwhile may not have been told yet (see OnIngested).
                if (_pushed.StatusDue(Now)) PublishStatus();
                return true;
            default:
                return false;
        }
    }

    private void OnIngest(IngestLines ingest)
    {
        Health.Pushed(Now, ingest.Lines.Count, ingest.Rejected);
        _metrics.Rejected(ingest.Rejected);
        _pushed ??= new PushedLines(_key);
        var write = _pushed.Accept(ingest, ReplyTo, ++_correlation, out var duplicates);
        Health.Counted(0, duplicates);
        if (write is not null) _writer.Tell(write);
        // Nothing to wait for: what changed is told now, else once the writes under way are answered.
        else if (_pushed.StatusDue(Now)) PublishStatus();
    }

    private void OnIngested(LinesWritten written)
    {
        var now = Now;
        Tell(_watch.Measured(_pushed!.Written(written), _nodeId, _key, now));
        Health.Counted(written.Outcome.Stored, written.Outcome.Duplicates);
        foreach (var m in written.Outcome.Newest)
            if (m.Measurement.NodeId == (_nodeId ?? _key)) RememberLatest(m);
        // A node whose backlog drains has several payloads' writes under way, often answered by one commit: its status
        // is told once for them, not once a payload (a status message for every MQTT message was the work the node
        // reshape added to a drain). Alerts and the newest row are told at once, as ever.
        if (_pushed.StatusDue(now)) PublishStatus();
    }

    private void StartAttempt()
    {
        if (_identity?.MayPoll() == false) return;
        Disarm();
        _deadlines.Hold();
        _cycle.Began();
        _gate.EnterAsync().PipeTo(Self, success: () => new SlotGranted());
    }

    private void Fetch()
    {
        _holdingSlot = true;
        Health.Attempted(Now);
        _trace = PollTrace.Start(_key, _log.Url!);
        _fetcher.FetchAsync(_log.Url!, _log.Position, _cycle.Timeout).PipeTo(Self,
            success: result => new Fetched(result),
            failure: error => new Fetched(new FetchFailed(error.Message)));
    }

    private void OnFetched(FetchResult result)
    {
        Health.Fetched(result.WireBytes);
        _trace?.Fetched(result);
        switch (result)
        {
            case LogFetched log:
                _trace?.Step("parse");
                var parsed = LineParser.ParsePayload(log.Content.Span, Now.ToUnixTimeSeconds());
                _trace?.Parsed(parsed);
                _metrics.Rejected(parsed.Rejections);
                if (log.FromStart && _log.Position.Offset > 0)
                    Log.Debug("Node {0}: reading the whole log again (rotated, or Range not honoured)", Name);
                if (parsed.Lines.Count == 0)
                {
                    _log.Read(log.Next);
                    _metrics.Poll("success");
                    EndAttempt(true, 0, 0, parsed.Rejections, RejectionNote(parsed), nodeFailed: false);
                    return;
                }
                _writer.Tell(_log.Write(++_correlation, log.Next, parsed, _trace?.Step("write") ?? default));
                break;

            case LogMissing:
                _log.Missing();
                _metrics.Poll("no_log");
                EndAttempt(true, 0, 0, RejectionCounts.None, "no log (HTTP 404): rotated away until its next line", nodeFailed: false);
                break;

            case FetchFailed failed:
                _metrics.Poll("failure");
                EndAttempt(false, 0, 0, RejectionCounts.None, failed.Error, nodeFailed: true);
                break;
        }
    }

    private void OnLinesWritten(LinesWritten written)
    {
        var parsed = _log.Written();
        var newest = written.Outcome.Newest;
        var own = newest.Where(m => m.Measurement.NodeId == _nodeId).ToList();
        var identified = false;
        if (_nodeId is null && newest.Count > 0)
        {
            // The first good poll of a node known by its address: its lines tell who it is. The registry records it
            // and moves the node to an actor under its id; this one stops then.
            own = [newest.MaxBy(m => m.Measurement.Timestamp)!];
            _nodeId = own[0].Measurement.NodeId;
            Log.Info("Node at {0} is {1}", _key, _nodeId);
            identified = true;
        }
        foreach (var m in own) RememberLatest(m);
        if (_nodeId is not null) Measured(parsed.Lines);
        // The lines' id wins (they are stored under it), but an operator who named the node otherwise should know.
        var note = own.Count == 0 && newest.Count > 0
            ? $"the log's lines carry the id '{newest[0].Measurement.NodeId}', not '{_nodeId}'; they are stored under their own id"
            : RejectionNote(parsed);
        _metrics.Poll("success");
        EndAttempt(true, written.Outcome.Stored, written.Outcome.Duplicates, parsed.Rejections, note, nodeFailed: false);
        // Told once this poll is counted, so that the node's record moves whole.
        if (identified) Identify();
    }

    private void EndAttempt(bool succeeded, int stored, int duplicates, RejectionCounts rejected, string? error, bool nodeFailed)
    {
        _trace?.End(stored, duplicates, succeeded ? null : error);
        _trace = null;
        LeaveGate();
        Health.Counted(stored, duplicates);
        if (Health.Ended(_key, Now, succeeded, nodeFailed, rejected, error) is { } up)
        {
            Log.Info("Node {0} is up again after {1:0.#} minutes down", Name, up.DownFor.TotalMinutes);
            _events.CameUp(up);
        }

        if (succeeded || nodeFailed) ObservePolls();

        var outcome = Outcome(succeeded, stored, duplicates, rejected, error);
        foreach (var waiter in TakeWaiters()) waiter.Tell(outcome);

        switch (_cycle.Ended(succeeded, nodeFailed, PollsOnSchedule))
        {
            case PollStep.Retry:
                Arm(_cycle.RetryDelay);
                break;
            case PollStep.GiveUp:
                if (Health.GaveUp(_key, Now) is { } down)
                {
                    Log.Warning("Node {0} is down: {1}", Name, error);
                    _events.WentDown(down);
                }
                ScheduleNextCycle();
                break;
            case PollStep.NextCycle:
                ScheduleNextCycle();
                break;
        }
        _deadlines.Release(Now);
        PublishStatus();
    }

    private void LeaveGate()
    {
        if (!_holdingSlot) return;
        _holdingSlot = false;
        _gate.Leave();
    }

    protected override void PostStop()
    {
        _trace?.End(0, 0, "the node's actor stopped");
        LeaveGate();
        // A sharded entity also stops when its shard moves to another member (a rebalance, a member leaving): the
        // node stays listed until its new entity tells its status. Only a node that is gone for good leaves the list.
        if (!_options.Sharded || _stoppingForGood) _events.Stopped(_key, Self);
    }

    private void ScheduleNextCycle()
    {
        if (PollsOnSchedule) Arm(_cycle.UntilNextCycle(Now, HealthNow.DownFor(Now)));
    }

    private bool PollsOnSchedule => _options.Scheduled && _log.Url is not null && _enabled;

    private void Arm(TimeSpan delay) => _deadlines.SetPoll(Now + delay, Now);

    private void Disarm() => _deadlines.ClearPoll();

    /// <summary>The node's one timer went off: its slot (or retry), its silence check, its down check, as they are due.</summary>
    private void WokeUp()
    {
        var due = _deadlines.WentOff(Now);
        if ((due & NodeDeadlines.Due.Silence) != 0) Tell(_watch.SilenceChecked(Now, AlertNodeId));
        if ((due & NodeDeadlines.Due.Down) != 0) ObservePolls();
        if ((due & NodeDeadlines.Due.Poll) != 0)
        {
            _cycle.Ticked();
            StartAttempt();
        }
        _deadlines.Rearm(Now);
    }

    private void RememberLatest(StoredMeasurement candidate)
    {
        if (_latest is not null && (candidate.Measurement.Timestamp < _latest.Measurement.Timestamp || candidate.Id == _latest.Id)) return;
        _latest = candidate;
        _events.LatestChanged(new LatestChanged(candidate), Self);
        _nodeId ??= candidate.Measurement.NodeId;
    }

    private string AlertNodeId => _nodeId ?? _key;

    private void Measured(IReadOnlyList<Measurement> lines) => Tell(_watch.Measured(lines, _nodeId, _key, Now));

    private void ObservePolls() => Tell(_watch.PollsObserved(HealthNow.FailingSince, Now, AlertNodeId));

    /// <summary>Each transition is logged once, here, and leaves through <see cref="NodeEvents"/>.</summary>
    private void Tell(List<Alert>? changes)
    {
        if (changes is null) return;
        foreach (var alert in changes)
        {
            if (alert.State == AlertState.Firing) Log.Warning("Alert {0} firing for node {1} ({2})", alert.AlertName, alert.NodeId, alert.Severity);
            else Log.Info("Alert {0} resolved for node {1}", alert.AlertName, alert.NodeId);
            _events.AlertChanged(alert, Self);
        }
    }

    private void PublishStatus() => _events.StatusChanged(Status(), Self);

    private static string? RejectionNote(ParsedPayload parsed) =>
        parsed.FirstRejection is { } first ? $"{parsed.Rejections.Total} lines rejected, first: {first}" : null;

    private PollOutcome Outcome(bool succeeded, int stored, int duplicates, RejectionCounts rejected, string? error) =>
        new(_key, _nodeId, succeeded, stored, duplicates, rejected, error);

    private NodeStatus Status() => HealthNow.ToStatus(_key, _nodeId, _log.Url, _enabled, _deadlines.Poll, _latest);

    private string Name => _nodeId is null ? _key : _nodeId == _key ? _key : $"{_nodeId} ({_key})";

    private DateTimeOffset Now => Context.System.Scheduler.Now;
}
