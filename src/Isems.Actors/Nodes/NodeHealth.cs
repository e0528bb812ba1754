using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// A node's health and counters, as plain state: what its polls and pushes did, whether it is up or down, and since
/// when. It decides the transitions (up → down → up) and returns them; the actor publishes them from one place
/// (<see cref="NodeEvents"/>). No Akka, no I/O, no clock of its own: every instant is given, so a test can pin it.
/// </summary>
public sealed class NodeHealth
{
    /// <summary>
    /// The health of a node not polled nor pushed yet, to read only: a node actor makes its own when it first needs to
    /// count (most of a large idle fleet never does until its slot, and this is about 150 bytes a node).
    /// </summary>
    public static readonly NodeHealth Fresh = new();

    private DateTimeOffset? _failingSince;

    public NodeState State { get; private set; } = NodeState.Unknown;
    public DateTimeOffset? LastAttempt { get; private set; }
    public DateTimeOffset? LastSuccess { get; private set; }
    public DateTimeOffset? DownSince { get; private set; }
    public string? LastError { get; private set; }
    public int ConsecutiveFailures { get; private set; }

    /// <summary>When the current run of failed polls began; null while the last poll succeeded (for NodeDown).</summary>
    public DateTimeOffset? FailingSince => ConsecutiveFailures > 0 || State == NodeState.Down ? _failingSince : null;
    public long Polls { get; private set; }
    public long FailedPolls { get; private set; }
    public long LinesStored { get; private set; }
    public long LinesDuplicate { get; private set; }
    public long BytesFetched { get; private set; }
    public long LinesPushed { get; private set; }
    public DateTimeOffset? LastPush { get; private set; }
    public RejectionCounts Rejected { get; private set; } = RejectionCounts.None;

    /// <summary>
    /// Goes on from the record the node had under its address (the registry moved it to its id): the poll side as it
    /// was, the line counters added to what this actor counted already (pushes that came under the id meanwhile).
    /// </summary>
    public void TakeUp(NodeStatus before)
    {
        if (Polls == 0)
        {
            State = before.State == NodeState.Disabled ? NodeState.Unknown : before.State;
            LastAttempt = before.LastAttempt;
            LastSuccess = before.LastSuccess;
            DownSince = before.DownSince;
            _failingSince = before.DownSince;
            LastError = before.LastError;
            ConsecutiveFailures = before.ConsecutiveFailures;
            Polls = before.Polls;
            FailedPolls = before.FailedPolls;
            BytesFetched = before.BytesFetched;
        }
        LinesStored += before.LinesStored;
        LinesDuplicate += before.LinesDuplicate;
        Rejected = Rejected.Add(before.LinesRejected);
    }

    /// <summary>A fetch goes out now.</summary>
    public void Attempted(DateTimeOffset now)
    {
        Polls++;
        LastAttempt = now;
    }

    public void Fetched(long wireBytes) => BytesFetched += wireBytes;

    /// <summary>Lines the writer answered for (polled or pushed).</summary>
    public void Counted(int stored, int duplicates)
    {
        LinesStored += stored;
        LinesDuplicate += duplicates;
    }

    public void Pushed(DateTimeOffset now, int lines, RejectionCounts rejected)
    {
        LastPush = now;
        LinesPushed += lines + rejected.Total;
        Rejected = Rejected.Add(rejected);
    }

    /// <summary>
    /// An attempt ended. <paramref name="nodeFailed"/>: the node did not answer as it should (a database away is not
    /// the node's failure: it keeps its state). Returns <see cref="NodeCameUp"/> when a down node answered again.
    /// </summary>
    public NodeCameUp? Ended(string nodeKey, DateTimeOffset now, bool succeeded, bool nodeFailed, RejectionCounts rejected, string? error)
    {
        Rejected = Rejected.Add(rejected);
        LastError = error;
        if (succeeded)
        {
            var cameUp = State == NodeState.Down ? new NodeCameUp(nodeKey, now, now - DownSince!.Value) : null;
            State = NodeState.Up;
            LastSuccess = now;
            ConsecutiveFailures = 0;
            DownSince = null;
            return cameUp;
        }
        if (nodeFailed)
        {
            FailedPolls++;
            if (ConsecutiveFailures++ == 0) _failingSince = LastAttempt;
        }
        return null;
    }

    /// <summary>
    /// The cycle gave up on the node (its retries are spent): it is down since its first failed attempt. Returns
    /// <see cref="NodeWentDown"/> the first time only.
    /// </summary>
    public NodeWentDown? GaveUp(string nodeKey, DateTimeOffset now)
    {
        if (State == NodeState.Down) return null;
        State = NodeState.Down;
        DownSince = _failingSince ?? now;
        return new NodeWentDown(nodeKey, DownSince.Value, LastError);
    }

    /// <summary>How long the node has been down, for the schedule's slowdown; zero when it is not down.</summary>
    public TimeSpan DownFor(DateTimeOffset now) => State == NodeState.Down ? now - DownSince!.Value : TimeSpan.Zero;

    public NodeStatus ToStatus(string nodeKey, string? nodeId, Uri? logUrl, bool enabled, DateTimeOffset? nextPoll, StoredMeasurement? latest) => new(
        nodeKey, nodeId, logUrl, logUrl is not null && !enabled ? NodeState.Disabled : State, LastAttempt, LastSuccess, LastError,
        ConsecutiveFailures, DownSince, nextPoll, Polls, FailedPolls, LinesStored, LinesDuplicate, Rejected, BytesFetched,
        LinesPushed, LastPush, latest);
}
