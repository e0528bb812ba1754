using Isems.Actors.Nodes;
using Isems.LineFormat;

namespace Isems.Api.Json;

/// <summary>A node's health for operators: its state, and when it last failed, why.</summary>
/// <remarks><c>nodeId</c> is null for a node known only by its address until its first good poll tells its id.</remarks>
public sealed record NodeStatusJson(
    string? NodeId,
    string? Url,
    string State,
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
    long LinesRejected,
    IReadOnlyDictionary<string, int> LinesRejectedByReason,
    long BytesFetched,
    long LinesPushed,
    DateTimeOffset? LastPush,
    string? LatestTimestamp,
    string? LatestStatus,
    IReadOnlyList<string> LatestStatusMeanings,
    // Cluster mode only (SPEC §9): the member whose entity owns the node. Left out in one process, so its answers stay
    // byte for byte as before.
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? Member = null)
{
    public static NodeStatusJson From(NodeStatus s)
    {
        var latest = s.Latest?.Measurement;
        return new NodeStatusJson(
            s.NodeId,
            s.LogUrl?.ToString(),
            s.State.ToString().ToLowerInvariant(),
            s.LastAttempt, s.LastSuccess, s.LastError, s.ConsecutiveFailures, s.DownSince, s.NextPoll,
            s.Polls, s.FailedPolls, s.LinesStored, s.LinesDuplicate, s.LinesRejected.Total, s.LinesRejected.ToDictionary(),
            s.BytesFetched,
            s.LinesPushed,
            s.LastPush,
            latest is null ? null : MeasurementJson.IsoTime(latest.Timestamp),
            latest is null ? null : StatusBitNames.ToApiText(latest.Status),
            latest?.Status is { } bits ? StatusBitNames.Describe(bits) : [],
            s.Member);
    }
}

public sealed record NodeStatusList(IReadOnlyList<NodeStatusJson> Nodes);
