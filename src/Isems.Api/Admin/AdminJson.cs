using System.ComponentModel;
using System.Text.Json.Serialization;
using Isems.Actors.Nodes;
using Isems.Actors.Registry;
using Isems.Api.Json;

namespace Isems.Api.Admin;

/// <summary>A registered node as the admin API shows it: what was configured, and its current health.</summary>
public sealed record AdminNodeJson(
    [property: Description("The node's id, as its lines carry it (for a node from ISEMS_ROUTER_IPS: its address until an operator names it)")]
    string Id,
    [property: Description("The URL of the node's log")]
    string Url,
    [property: Description("Seconds between polls; null = the collector's POLL_INTERVAL_SECONDS")]
    int? IntervalSeconds,
    [property: Description("Seconds a poll may take; null = the collector's POLL_TIMEOUT_SECONDS")]
    int? TimeoutSeconds,
    [property: Description("false: not polled on schedule; its data stays visible")]
    bool Enabled,
    string? Note,
    [property: Description("\"operator\" (added through this API) or \"configuration\" (from ISEMS_ROUTER_IPS)")]
    string Source,
    [property: Description("true once an operator changed the node; then ISEMS_ROUTER_IPS no longer changes it")]
    bool ChangedByOperator,
    DateTimeOffset AddedAt,
    DateTimeOffset ChangedAt,
    [property: Description("The node's health as its actor holds it (as GET /nodes/{id} shows it)")]
    NodeStatusJson? Status,
    [property: Description(AdminNodeJson.MutedDescription)]
    IReadOnlyList<string> MutedAlerts)
{
    public const string MutedDescription = "Alert names muted for this node (NodeDown, NodeSilent, BatteryLow, BatteryOverheating, " +
        "BatteryCold, ControllerUnreachable, TemperatureSensorMissing, StorageTooSmall): evaluated, but never firing, so never delivered; " +
        "muting one that fires resolves it";

    public static AdminNodeJson From(RegisteredNode node, NodeStatus? status) => new(
        node.Id, node.Url.ToString(), node.IntervalSeconds, node.TimeoutSeconds, node.Enabled, node.Note,
        node.Source == NodeSource.Operator ? "operator" : "configuration", node.ChangedByOperator, node.AddedAt, node.ChangedAt,
        status is null ? null : NodeStatusJson.From(status), node.Muted);
}

public sealed record AdminNodeList(IReadOnlyList<AdminNodeJson> Nodes);

/// <summary>The body of <c>POST /admin/nodes</c> (documentation of the fields; the body is read by <see cref="NodeRequestReader"/>).</summary>
public sealed record AddNodeRequest(
    [property: Description("The node's id as its lines carry it: 1 to 64 characters, no '/' or control characters")]
    string Id,
    [property: Description("The node's log: an http(s) URL, or a bare IP or host for http://<host>/ISEMS/ffopenmppt.log")]
    string Url,
    [property: Description("Seconds between polls, 10 to 86400; null or absent = POLL_INTERVAL_SECONDS")]
    [property: JsonNumberHandling(JsonNumberHandling.Strict)]
    int? IntervalSeconds = null,
    [property: Description("Seconds a poll may take, 1 to 300 and shorter than the interval; null or absent = POLL_TIMEOUT_SECONDS")]
    [property: JsonNumberHandling(JsonNumberHandling.Strict)]
    int? TimeoutSeconds = null,
    [property: Description("Poll on schedule (default true)")]
    bool? Enabled = null,
    [property: Description("Free text for operators, such as where the node hangs (at most 500 characters)")]
    string? Note = null,
    [property: Description(AdminNodeJson.MutedDescription)]
    IReadOnlyList<string>? MutedAlerts = null);

/// <summary>The body of <c>PATCH /admin/nodes/{id}</c>: the fields to change; the others stay as they are.</summary>
public sealed record ChangeNodeRequest(
    [property: Description("The node's log: an http(s) URL, or a bare IP or host")]
    string? Url = null,
    [property: Description("Seconds between polls, 10 to 86400; null = POLL_INTERVAL_SECONDS")]
    [property: JsonNumberHandling(JsonNumberHandling.Strict)]
    int? IntervalSeconds = null,
    [property: Description("Seconds a poll may take, 1 to 300; null = POLL_TIMEOUT_SECONDS")]
    [property: JsonNumberHandling(JsonNumberHandling.Strict)]
    int? TimeoutSeconds = null,
    [property: Description("false: stop polling on schedule, keep the data")]
    bool? Enabled = null,
    string? Note = null,
    [property: Description(AdminNodeJson.MutedDescription + "; replaces the list muted before, [] or null mutes none")]
    IReadOnlyList<string>? MutedAlerts = null);

/// <summary>What a removal did.</summary>
public sealed record RemovedNodeJson(string Id, bool Purged, int RowsDeleted);

/// <summary>What one poll brought.</summary>
public sealed record PollOutcomeJson(
    string Id,
    [property: Description("The id the node's lines carry (null if no line told it yet)")]
    string? NodeId,
    bool Succeeded,
    int Stored,
    int Duplicates,
    int Rejected,
    IReadOnlyDictionary<string, int> RejectedByReason,
    string? Error)
{
    public static PollOutcomeJson From(string id, PollOutcome outcome) => new(
        id, outcome.NodeId, outcome.Succeeded, outcome.Stored, outcome.Duplicates, outcome.Rejected.Total,
        outcome.Rejected.ToDictionary(), outcome.Error);
}
