using Akka.Actor;
using Akka.Event;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// One solar node. Owns its polling schedule, its fetches with their retries and backoff, the byte offset reached in
/// its log, its newest stored measurement, and its health. Fetches run as tasks piped back as messages; lines go to
/// the writer, and only once they are committed does the offset move on, so a failed write is fetched again.
/// An <see cref="UntypedActor"/> with one switch, unlike the collector's other actors: there is one per node, up to
/// 100,000 in a process, and a <see cref="ReceiveActor"/> builds its handler tables for every instance.
/// </summary>
public sealed class NodeActor : UntypedActor, IWithTimers
{
    private sealed record PollTick;
    private sealed record SlotGranted;
    private sealed record Fetched(FetchResult Result);

    private const string PollTimer = "poll";
    private static readonly PollTick Tick = new();

    private readonly string _key;
    private readonly IActorRef _writer;
    private readonly NodeLogFetcher _fetcher;
    private readonly PollGate _gate;
    private readonly PollingOptions _options;
    private readonly CollectorMetrics _metrics;
    private readonly IActorRef _latestView;
    private Random? _jitter;    // made on the first retry: most nodes never need one
    private ILoggingAdapter? _logger; // made when first needed: a node that never logs never pays for one
    private ILoggingAdapter Log => _logger ??= Context.GetLogger();
    private IActorRef? _retireReplyTo;

    // Configuration
    private string? _nodeId;
    private Uri? _logUrl;
    private bool _enabled = true;
    private TimeSpan _interval, _timeout;

    // The attempt in flight and the cycle it belongs to
    private bool _fetching, _holdingSlot;
    private int _cycleAttempt;
    private long _correlation;
    private (long Id, LogPosition Next, ParsedPayload Parsed)? _writing;
    private readonly List<IActorRef> _waiters = [];

    private PollTrace? _trace; // the poll's spans, only while a tracer listens
    private PushedLines? _pushed; // made when the node first pushes
    private LogPosition _position = LogPosition.Start;
    private LogBookmark? _resumeFrom; // saved before the last stop; taken up when the node is told its log URL

    // Health and counters
    private NodeState _state = NodeState.Unknown;
    private DateTimeOffset? _lastAttempt, _lastSuccess, _failingSince, _downSince, _nextPoll;
    private string? _lastError;
    private int _consecutiveFailures;
    private long _polls, _failedPolls, _linesStored, _linesDuplicate, _bytesFetched, _linesPushed;
    private DateTimeOffset? _lastPush;
    private RejectionCounts _rejected = RejectionCounts.None;
    private StoredMeasurement? _latest;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="latestView">Told every change of the node's newest measurement (the fleet's read model).</param>
    /// <param name="resumeFrom">Where the node's log was read up to before the collector last stopped.</param>
    public static Props Props(
        string nodeKey, IActorRef writer, NodeLogFetcher fetcher, PollGate gate, PollingOptions options, IActorRef latestView,
        CollectorMetrics? metrics = null, LogBookmark? resumeFrom = null)
    {
        // Only variables in the expression: Akka compiles any other argument expression, once per actor created, and
        // for 100,000 nodes that was 14 s of start-up and a dynamic method each to collect afterwards.
        var recorded = metrics ?? CollectorMetrics.None;
        return Akka.Actor.Props.Create(() => new NodeActor(nodeKey, writer, fetcher, gate, options, latestView, recorded, resumeFrom));
    }

    public NodeActor(
        string nodeKey, IActorRef writer, NodeLogFetcher fetcher, PollGate gate, PollingOptions options, IActorRef latestView,
        CollectorMetrics metrics, LogBookmark? resumeFrom)
    {
        _resumeFrom = resumeFrom;
        _metrics = metrics;
        _latestView = latestView;
        _key = nodeKey;
        _writer = writer;
        _fetcher = fetcher;
        _gate = gate;
        _options = options;
        _nodeId = LineParser.IsValidNodeId(nodeKey) ? nodeKey : null;
        _interval = options.Interval;
        _timeout = options.Timeout;
    }

    protected override void OnReceive(object message)
    {
        if (HandledPushedWrite(message)) return;
        switch (message)
        {
            case StartPolling start:
                OnStartPolling(start);
                break;
            case StopPolling stop:
                UseLog(stop.LogUrl);
                _enabled = false;
                Timers.Cancel(PollTimer);
                _nextPoll = null;
                break;
            case RetireNode retire:
                Retire(retire);
                break;
            case RestoreLatest restore:
                RememberLatest(restore.Latest);
                break;
            case PollTick:
                _cycleAttempt = _cycleAttempt == 0 ? 1 : _cycleAttempt + 1;
                StartAttempt();
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
            case LinesWritten written when written.CorrelationId == _writing?.Id:
                OnLinesWritten(written);
                break;
            case LinesNotWritten failed when failed.CorrelationId == _writing?.Id:
                // The database is away, not the node: the node keeps its state, and the lines are fetched again next time.
                _writing = null;
                _metrics.Poll("not_stored");
                EndAttempt(false, 0, 0, RejectionCounts.None, $"lines not stored: {failed.Reason}", nodeFailed: false);
                break;
            case IngestLines ingest:
                OnIngest(ingest);
                break;
            case HandOver handOver:
                if (_latest is not null) handOver.Owner.Tell(new RestoreLatest(_latest.Measurement.NodeId, _latest));
                // Pushed lines still being written are offered again by their senders, then to the owner: stored once.
                _pushed?.FailAll("the node's data moved to the actor that polls it");
                Context.Stop(Self);
                break;
            case GetNodeStatus:
                Sender.Tell(Status());
                break;
            case IsNodeStarted:
                Sender.Tell(NodeStarted.Instance);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnStartPolling(StartPolling start)
    {
        UseLog(start.LogUrl);
        _enabled = true;
        _interval = start.Settings?.Interval ?? _options.Interval;
        _timeout = start.Settings?.Timeout ?? _options.Timeout;
        if (_fetching) return;
        if (start.PollAtOnce && _options.Scheduled)
        {
            _cycleAttempt = 1;
            StartAttempt();
        }
        else ScheduleNextCycle();
    }

    private void OnPollNow()
    {
        if (_logUrl is null)
        {
            Sender.Tell(Outcome(false, 0, 0, RejectionCounts.None, "the node is not polled: it has no log URL"));
            return;
        }
        _waiters.Add(Sender);
        if (!_fetching) StartAttempt();
    }

    private void UseLog(Uri logUrl)
    {
        if (_logUrl != logUrl)
            _position = _resumeFrom is { } saved && saved.LogUrl == logUrl.ToString()
                ? new LogPosition(saved.Offset, saved.PrefixHash, saved.TailHash, saved.TailLength, Resumed: true)
                : LogPosition.Start;
        _resumeFrom = null;
        _logUrl = logUrl;
    }

    private void Retire(RetireNode retire)
    {
        Timers.Cancel(PollTimer);
        _nextPoll = null;
        _logUrl = null;
        _enabled = true;
        var removed = Outcome(false, 0, 0, RejectionCounts.None, "the node was removed");
        foreach (var waiter in _waiters) waiter.Tell(removed);
        _waiters.Clear();
        if (!retire.PurgeRows)
        {
            // Like a node only known from the database: its latest data stays visible, nothing is fetched.
            Sender.Tell(new NodeRetired(_key, _nodeId, 0));
            return;
        }
        if (_nodeId is null)
        {
            Sender.Tell(new NodeRetired(_key, null, 0));
            Context.Stop(Self);
            return;
        }
        // The writer deletes after every line queued before, so nothing of this node is written after the purge.
        _retireReplyTo = Sender;
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
                _latestView.Tell(new LatestRemoved(_nodeId!));
                _retireReplyTo!.Tell(new NodeRetired(_key, _nodeId, deleted.Rows));
                Context.Stop(Self);
                break;
            case IngestLines ingest:
                Sender.Tell(new LinesNotIngested(_key, ingest.Tag, "the node is being removed"));
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
                return true;
            default:
                return false;
        }
    }

    private void OnIngest(IngestLines ingest)
    {
        _lastPush = Now;
        _linesPushed += ingest.Lines.Count + ingest.Rejected.Total;
        _rejected = _rejected.Add(ingest.Rejected);
        _metrics.Rejected(ingest.Rejected);
        _pushed ??= new PushedLines(_key);
        var write = _pushed.Accept(ingest, Sender, ++_correlation, out var duplicates);
        _linesDuplicate += duplicates;
        if (write is not null) _writer.Tell(write);
    }

    private void OnIngested(LinesWritten written)
    {
        _pushed!.Written(written);
        _linesStored += written.Outcome.Stored;
        _linesDuplicate += written.Outcome.Duplicates;
        foreach (var m in written.Outcome.Newest.Where(m => m.Measurement.NodeId == (_nodeId ?? _key)))
            RememberLatest(m);
    }

    private void StartAttempt()
    {
        Timers.Cancel(PollTimer);
        _nextPoll = null;
        _fetching = true;
        _gate.EnterAsync().PipeTo(Self, success: () => new SlotGranted());
    }

    private void Fetch()
    {
        _holdingSlot = true;
        _polls++;
        _lastAttempt = Now;
        var url = _logUrl!;
        _trace = PollTrace.Start(_key, url);
        _fetcher.FetchAsync(url, _position, _timeout).PipeTo(Self,
            success: result => new Fetched(result),
            failure: error => new Fetched(new FetchFailed(error.Message)));
    }

    private void OnFetched(FetchResult result)
    {
        _bytesFetched += result.WireBytes;
        _trace?.Fetched(result);
        switch (result)
        {
            case LogFetched log:
                _trace?.Step("parse");
                var parsed = LineParser.ParsePayload(log.Content.Span, Now.ToUnixTimeSeconds());
                _trace?.Parsed(parsed);
                _metrics.Rejected(parsed.Rejections);
                if (log.FromStart && _position.Offset > 0)
                    Log.Debug("Node {0}: reading the whole log again (rotated, or Range not honoured)", Name);
                if (parsed.Lines.Count == 0)
                {
                    _position = log.Next;
                    _metrics.Poll("success");
                    EndAttempt(true, 0, 0, parsed.Rejections, RejectionNote(parsed), nodeFailed: false);
                    return;
                }
                _writing = (++_correlation, log.Next, parsed);
                var next = log.Next;
                _writer.Tell(new WriteLines(parsed.Lines, _correlation, new LogBookmark(
                    _key, _logUrl!.ToString(), next.Offset, next.PrefixHash, next.TailHash, next.TailLength, parsed.Lines[^1].NodeId),
                    _trace?.Step("write") ?? default));
                break;

            case LogMissing:
                _position = LogPosition.Start;
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
        var (_, next, parsed) = _writing!.Value;
        _writing = null;
        _position = next;
        var newest = written.Outcome.Newest;
        var own = newest.Where(m => m.Measurement.NodeId == _nodeId).ToList();
        if (_nodeId is null && newest.Count > 0)
        {
            own = [newest.MaxBy(m => m.Measurement.Timestamp)!];
            _nodeId = own[0].Measurement.NodeId;
            Context.Parent.Tell(new NodeIdLearned(_key, _nodeId));
            Log.Info("Node at {0} is {1}", _key, _nodeId);
        }
        foreach (var m in own) RememberLatest(m);
        // The lines' id wins (they are stored under it), but an operator who named the node otherwise should know.
        var note = own.Count == 0 && newest.Count > 0
            ? $"the log's lines carry the id '{newest[0].Measurement.NodeId}', not '{_nodeId}'; they are stored under their own id"
            : RejectionNote(parsed);
        _metrics.Poll("success");
        EndAttempt(true, written.Outcome.Stored, written.Outcome.Duplicates, parsed.Rejections, note, nodeFailed: false);
    }

    private void EndAttempt(bool succeeded, int stored, int duplicates, RejectionCounts rejected, string? error, bool nodeFailed)
    {
        _trace?.End(stored, duplicates, succeeded ? null : error);
        _trace = null;
        _fetching = false;
        LeaveGate();
        _linesStored += stored;
        _linesDuplicate += duplicates;
        _rejected = _rejected.Add(rejected);
        _lastError = error;

        if (succeeded)
        {
            if (_state == NodeState.Down)
                Log.Info("Node {0} is up again after {1:0.#} minutes down", Name, (Now - _downSince!.Value).TotalMinutes);
            _state = NodeState.Up;
            _lastSuccess = Now;
            _consecutiveFailures = 0;
            _downSince = null;
            _cycleAttempt = 0;
        }
        else if (nodeFailed)
        {
            _failedPolls++;
            if (_consecutiveFailures++ == 0) _failingSince = _lastAttempt;
        }

        var outcome = Outcome(succeeded, stored, duplicates, rejected, error);
        foreach (var waiter in _waiters) waiter.Tell(outcome);
        _waiters.Clear();

        if (!PollsOnSchedule) return;
        if (!succeeded && nodeFailed && _cycleAttempt is > 0 && _cycleAttempt <= _options.Retries)
        {
            _jitter ??= new Random(_options.JitterSeed ^ (int)PollSchedule.StableHash(_key));
            Arm(PollSchedule.RetryDelay(_cycleAttempt, _interval, _jitter));
            return;
        }
        if (!succeeded && nodeFailed && _state != NodeState.Down)
        {
            _state = NodeState.Down;
            _downSince = _failingSince;
            Log.Warning("Node {0} is down: {1}", Name, error);
        }
        _cycleAttempt = 0;
        ScheduleNextCycle();
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
    }

    private void ScheduleNextCycle()
    {
        if (!PollsOnSchedule) return;
        var slowdown = _state == NodeState.Down ? PollSchedule.SlowdownFactor(Now - _downSince!.Value, _options) : 1;
        var delay = PollSchedule.UntilNextSlot(_key, _interval, Now) + (slowdown - 1) * _interval;
        Arm(delay);
    }

    private bool PollsOnSchedule => _options.Scheduled && _logUrl is not null && _enabled;

    private void Arm(TimeSpan delay)
    {
        Timers.StartSingleTimer(PollTimer, Tick, delay);
        _nextPoll = Now + delay;
    }

    private void RememberLatest(StoredMeasurement candidate)
    {
        if (_latest is not null && (candidate.Measurement.Timestamp < _latest.Measurement.Timestamp || candidate.Id == _latest.Id)) return;
        _latest = candidate;
        _latestView.Tell(new LatestChanged(candidate));
        _nodeId ??= candidate.Measurement.NodeId;
    }

    private static string? RejectionNote(ParsedPayload parsed) =>
        parsed.FirstRejection is { } first ? $"{parsed.Rejections.Total} lines rejected, first: {first}" : null;

    private PollOutcome Outcome(bool succeeded, int stored, int duplicates, RejectionCounts rejected, string? error) =>
        new(_key, _nodeId, succeeded, stored, duplicates, rejected, error);

    private NodeStatus Status() => new(
        _key, _nodeId, _logUrl, _logUrl is not null && !_enabled ? NodeState.Disabled : _state, _lastAttempt, _lastSuccess, _lastError, _consecutiveFailures, _downSince,
        _nextPoll, _polls, _failedPolls, _linesStored, _linesDuplicate, _rejected, _bytesFetched, _linesPushed, _lastPush, _latest);

    private string Name => _nodeId is null ? _key : _nodeId == _key ? _key : $"{_nodeId} ({_key})";

    private DateTimeOffset Now => Context.System.Scheduler.Now;
}
