using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isems.Dashboard.Client;

// The JSON the collector's public API answers, as far as the dashboard reads it. Every field is optional: the
// dashboard shows what is there and never fails on what is not (the read model behind /nodes may grow or change).

public sealed record NodeList([property: JsonPropertyName("nodes")] List<NodeHealth>? Nodes);

/// <summary>One entry of <c>GET /nodes</c>: a node's health.</summary>
public sealed record NodeHealth
{
    public string? NodeId { get; init; }
    public string? Url { get; init; }
    public string? State { get; init; }
    public DateTimeOffset? LastAttempt { get; init; }
    public DateTimeOffset? LastSuccess { get; init; }
    public string? LastError { get; init; }
    public int ConsecutiveFailures { get; init; }
    public DateTimeOffset? DownSince { get; init; }
    public DateTimeOffset? NextPoll { get; init; }
    public long Polls { get; init; }
    public long FailedPolls { get; init; }
    public long LinesStored { get; init; }
    public long LinesDuplicate { get; init; }
    public long LinesRejected { get; init; }
    public Dictionary<string, int>? LinesRejectedByReason { get; init; }
    public long BytesFetched { get; init; }
    public long LinesPushed { get; init; }
    public DateTimeOffset? LastPush { get; init; }
    public string? LatestTimestamp { get; init; }
    public string? LatestStatus { get; init; }
    public List<string>? LatestStatusMeanings { get; init; }
}

public sealed record MeasurementList([property: JsonPropertyName("measurements")] List<Measurement>? Measurements);

/// <summary>A measurement as <c>/measurements/…</c> answers it (SPEC §3).</summary>
public sealed record Measurement
{
    public long Id { get; init; }
    public string? NodeId { get; init; }
    public DateTimeOffset Timestamp { get; init; }
    public double BatteryVoltage { get; init; }
    public double BatteryChargeEstimate { get; init; }
    public double BatteryHealthEstimate { get; init; }
    public double BatteryTemperature { get; init; }
    public double OpenCircuitVoltage { get; init; }
    public double MppVoltage { get; init; }
    public double TimeToShutdown { get; init; }
    public double Latitude { get; init; }
    public double Longitude { get; init; }
    public string? Status { get; init; }
    public string? OpenMPPTFirmwareVersion { get; init; }
    public bool IsPowerSaveMode { get; init; }
}

/// <summary><c>GET /measurements/{id}/history</c> with a bucket (SPEC §6).</summary>
public sealed record HistoryAnswer
{
    public string? NodeId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public string? Bucket { get; init; }
    public List<HistoryPoint>? Points { get; init; }
    public List<Measurement>? Measurements { get; init; }
}

public sealed record HistoryPoint
{
    public DateTimeOffset Time { get; init; }
    public int Count { get; init; }
    public string? Status { get; init; }
    public Aggregate? BatteryVoltage { get; init; }
    public Aggregate? BatteryChargeEstimate { get; init; }
    public Aggregate? BatteryTemperature { get; init; }
    public Aggregate? OpenCircuitVoltage { get; init; }
    public Aggregate? MppVoltage { get; init; }
}

public sealed record Aggregate(double Avg, double Min, double Max);

/// <summary>A registered node as <c>/admin/nodes</c> answers it.</summary>
public sealed record AdminNode
{
    public string Id { get; init; } = "";
    public string Url { get; init; } = "";
    public int? IntervalSeconds { get; init; }
    public int? TimeoutSeconds { get; init; }
    public bool Enabled { get; init; }
    public string? Note { get; init; }
    public string? Source { get; init; }
    public NodeHealth? Status { get; init; }
}

public sealed record AdminNodeList([property: JsonPropertyName("nodes")] List<AdminNode>? Nodes);

/// <summary>An RFC 9457 problem as the API answers errors, with the validation errors by field when there are.</summary>
public sealed record Problem
{
    public string? Title { get; init; }
    public string? Detail { get; init; }
    public int? Status { get; init; }
    public Dictionary<string, string[]>? Errors { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}

/// <summary><c>GET /alerts</c> (SPEC §8), once the collector evaluates alerts.</summary>
public sealed record AlertList([property: JsonPropertyName("alerts")] List<Alert>? Alerts);

public sealed record Alert
{
    public string? Alertname { get; init; }
    public string? NodeId { get; init; }
    public string? Severity { get; init; }
    public string? State { get; init; }
    public DateTimeOffset? StartsAt { get; init; }
    public DateTimeOffset? EndsAt { get; init; }
    public string? Summary { get; init; }
}
