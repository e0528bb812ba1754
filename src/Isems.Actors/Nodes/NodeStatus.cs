using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

public enum NodeState
{
    /// <summary>Not polled yet since the collector started, or not polled at all (data only from the database or pushed).</summary>
    Unknown,
    Up,
    Down,

    /// <summary>An operator disabled its polling; its data stays, and it can still be polled by hand.</summary>
    Disabled,
}

/// <summary>A node's health and counters as its actor holds them: the answer to "which nodes are down, and why?".</summary>
public sealed record NodeStatus(
    string NodeKey,
    string? NodeId,
    Uri? LogUrl,
    NodeState State,
    DateTimeOffset? LastAttempt,
    DateTimeOffset? LastSuccess,
    string? LastError,
    int ConsecutiveFailures,
    DateTimeOffset? DownSince,
    DateTimeOffset? NextPoll,
    long Polls,
    long FailedPolls,
    long LinesStored,
    long LinesDuplicate,
    RejectionCounts LinesRejected,
    long BytesFetched,
    long LinesPushed,
    DateTimeOffset? LastPush,
    StoredMeasurement? Latest,
    string? Member = null);
