using System.ComponentModel;
using System.Globalization;
using Isems.Actors.Writing;
using Isems.Api.Export;
using Isems.Api.Json;
using Isems.Storage;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace Isems.Api.Controllers;

/// <summary>A node's history over any range, raw or in buckets, and exports as CSV or lines (SPEC §6).</summary>
[ApiController]
[Route("measurements")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
[Tags("Measurements")]
public sealed class HistoryController(
    ActorAsk<RowVersionsActor> versions, MeasurementStore store, TimeProvider clock, HistoryJsonCache histories) : ControllerBase
{
    private static readonly HashSet<string> HistoryParameterNames = ["from", "to", "bucket", "fields"];
    private static readonly HashSet<string> ExportParameterNames = ["from", "to", "format"];

    /// <summary>A node's measurements in a time range, raw (oldest first) or aggregated in buckets.</summary>
    [HttpGet("{nodeId}/history", Name = "getNodeHistory")]
    [EndpointSummary("A node's history over a time range, raw or in buckets")]
    [EndpointDescription("Raw measurements oldest first (at most 100,000), or buckets aligned to the Unix epoch with count, " +
                         "the OR of the status bits and avg/min/max of each numeric key (at most 10,000 points). Aggregates are " +
                         "exact; where retention deleted the raw rows the answer comes from hourly rollups and says so in " +
                         "rawDeletedBefore. Strong ETag (If-None-Match gives 304), br/gzip on request. An unknown node gives an empty list.")]
    [ProducesResponseType<HistoryDocument>(StatusCodes.Status200OK, "application/json")]
    [ProducesResponseType(StatusCodes.Status304NotModified)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public async Task<IActionResult> History(
        [Description("The node id (URL-encoded).")] string nodeId,
        [FromQuery, Description("Start, inclusive: ISO 8601 with an offset (2026-11-30T00:00:00Z) or Unix seconds. Default: to minus 24 h.")] string? from,
        [FromQuery, Description("End, exclusive: ISO 8601 with an offset or Unix seconds. Default: now.")] string? to,
        [FromQuery, Description("raw (default), or a bucket size from 1m to 7d: 5m, 1h, 1d, 7d.")] string? bucket,
        [FromQuery, Description("Comma-separated keys to keep, e.g. batteryVoltage,batteryChargeEstimate.")] string? fields,
        CancellationToken cancellationToken)
    {
        if (UnknownParameter(HistoryParameterNames) is { } unknown) return unknown;
        if (HistoryParameters.TryRange(from, to, clock.GetUtcNow(), out var range) is { } badRange) return BadParameter(badRange);
        if (HistoryParameters.TryBucket(bucket, out var size, out var name) is { } badBucket) return BadParameter(badBucket);
        if (size is { } s && Buckets(range, s) is var count && count > HistoryParameters.MaxPoints)
            return BadParameter($"The range holds {count:N0} buckets of {name}; at most {HistoryParameters.MaxPoints:N0}: choose a larger bucket or a shorter range.");
        if (HistoryParameters.TryFields(fields, size is not null, out var keep) is { } badFields) return BadParameter(badFields);

        // The version is read before the rows, so a body is never older than the version it is kept under.
        var version = await versions.AskAsync(new GetRowVersion(nodeId), cancellationToken) as RowVersion;
        var variant = string.Create(CultureInfo.InvariantCulture, $"history|{range.From}|{range.To}|{name}|{fields}");
        if (version is not null && histories.TryGet(version, variant, out var cached)) return cached.Serve(this);

        Representation representation;
        if (size is null && await store.RawKeptFromAsync(nodeId, cancellationToken) is { } keptFrom && range.From < keptFrom)
        {
            // Raw rows of this range were deleted by retention: the hourly rollups answer (daily for a long range).
            var fallback = Buckets(range, Rollups.Hour) <= HistoryParameters.MaxPoints ? Rollups.Hour : Rollups.Day;
            var history = await store.AggregateAsync(nodeId, range.From, range.To, fallback, cancellationToken) with { RawDeletedBefore = keptFrom };
            representation = HistoryJsonWriter.PointsBody(nodeId, range, fallback == Rollups.Hour ? "1h" : "1d", history,
                keep?.Where(k => Rollups.Keys.Contains(k) || k == "status").ToHashSet());
        }
        else if (size is null)
        {
            var rows = await store.RangeAsync(nodeId, range.From, range.To, HistoryParameters.MaxRawRows + 1, cancellationToken);
            if (rows.Count > HistoryParameters.MaxRawRows)
                return BadParameter($"More than {HistoryParameters.MaxRawRows:N0} rows lie between {HistoryParameters.Iso(range.From)} and " +
                                    $"{HistoryParameters.Iso(range.To)}: choose a bucket (bucket=1h), a shorter range, or GET /measurements/{{nodeId}}/export for every row.");
            representation = new Representation(HistoryJsonWriter.Raw(nodeId, range, rows, keep));
        }
        else
        {
            var history = await store.AggregateAsync(nodeId, range.From, range.To, size.Value, cancellationToken);
            representation = HistoryJsonWriter.PointsBody(nodeId, range, name, history, keep);
        }
        if (version is not null) histories.Put(version, variant, representation);
        return representation.Serve(this);
    }

    /// <summary>A node's rows in a time range as CSV or in its line format, streamed.</summary>
    [HttpGet("{nodeId}/export", Name = "exportNodeMeasurements")]
    [EndpointSummary("Export a node's measurements as CSV or lines")]
    [EndpointDescription("CSV (RFC 4180, a header row with the API's keys in line order, then id) or the node's own line format, " +
                         "oldest first, streamed: memory stays flat and the first bytes arrive before the last row is read.")]
    [Produces("text/csv", "text/plain")]
    [ProducesResponseType(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public Task<IActionResult> ExportNode(
        [Description("The node id (URL-encoded).")] string nodeId,
        [FromQuery, Description("Start, inclusive: ISO 8601 with an offset or Unix seconds. Default: to minus 24 h.")] string? from,
        [FromQuery, Description("End, exclusive: ISO 8601 with an offset or Unix seconds. Default: now.")] string? to,
        [FromQuery, Description("csv (default) or lines.")] string? format,
        CancellationToken cancellationToken) => Export(nodeId, from, to, format, cancellationToken);

    /// <summary>Every node's rows in a time range, ordered by node id and then time, streamed.</summary>
    [HttpGet("export", Name = "exportAllMeasurements")]
    [EndpointSummary("Export every node's measurements as CSV or lines")]
    [EndpointDescription("Every node's rows in the range, ordered by node id (ordinal) and then time, streamed as CSV (RFC 4180) or lines.")]
    [Produces("text/csv", "text/plain")]
    [ProducesResponseType(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public Task<IActionResult> ExportAll(
        [FromQuery, Description("Start, inclusive: ISO 8601 with an offset or Unix seconds. Default: to minus 24 h.")] string? from,
        [FromQuery, Description("End, exclusive: ISO 8601 with an offset or Unix seconds. Default: now.")] string? to,
        [FromQuery, Description("csv (default) or lines.")] string? format,
        CancellationToken cancellationToken) => Export(null, from, to, format, cancellationToken);

    private async Task<IActionResult> Export(string? nodeId, string? from, string? to, string? format, CancellationToken ct)
    {
        if (UnknownParameter(ExportParameterNames) is { } unknown) return unknown;
        if (HistoryParameters.TryRange(from, to, clock.GetUtcNow(), out var range) is { } badRange) return BadParameter(badRange);
        if (HistoryParameters.TryFormat(format, out var lines) is { } badFormat) return BadParameter(badFormat);

        var stamp = static (long t) => DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var file = $"isems-{nodeId ?? "all-nodes"}-{stamp(range.From)}-{stamp(range.To)}.{(lines ? "log" : "csv")}";
        Response.ContentType = lines ? "text/plain; charset=utf-8" : "text/csv; charset=utf-8";
        var disposition = new ContentDispositionHeaderValue("attachment");
        disposition.SetHttpFileName(file);
        Response.Headers.ContentDisposition = disposition.ToString();
        Response.Headers.CacheControl = "no-store";

        var writer = new ExportWriter(Response.Body, lines);
        writer.Header();
        // The header goes out at once: a client sees the export start before the database has been read to the end.
        await Response.StartAsync(ct);
        await writer.FlushAsync(ct);
        await foreach (var row in store.ExportRowsAsync(nodeId, range.From, range.To, ct))
        {
            writer.Row(row);
            if (writer.Full) await writer.FlushAsync(ct);
        }
        await writer.FlushAsync(ct);
        return new EmptyResult();
    }

    private static long Buckets(HistoryRange range, long size) =>
        (Rollups.AlignDown(range.To - 1, size) - Rollups.AlignDown(range.From, size)) / size + 1;

    private IActionResult? UnknownParameter(HashSet<string> known)
    {
        foreach (var key in Request.Query.Keys)
            if (!known.Contains(key))
                return BadParameter($"'{key}' is not a parameter here; the parameters are {string.Join(", ", known)}.");
        return null;
    }

    private ObjectResult BadParameter(string detail) =>
        Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad parameter", detail: detail);
}

/// <summary>The body of <c>/measurements/{nodeId}/history</c>, for the OpenAPI document (written by <see cref="HistoryJsonWriter"/>).</summary>
public sealed record HistoryDocument(
    string NodeId, DateTimeOffset From, DateTimeOffset To,
    [property: Description("raw, or the bucket size (5m, 1h, 1d)")] string Bucket,
    [property: Description("Present when part of the range is answered from hourly rollups because retention deleted its raw rows: the instant before which that is so.")] DateTimeOffset? RawDeletedBefore,
    [property: Description("bucket=raw: the measurements, oldest first, each as in /measurements/{nodeId}/latest")] IReadOnlyList<MeasurementJson>? Measurements,
    [property: Description("bucketed: one point per non-empty bucket, oldest first")] IReadOnlyList<HistoryPointDocument>? Points);

/// <summary>One bucket: its start, how many rows, the OR of their status bits, and avg/min/max of each numeric key.</summary>
public sealed record HistoryPointDocument(
    DateTimeOffset Time, long Count, string Status,
    AggregateDocument? TimeToShutdown, AggregateDocument? OpenCircuitVoltage, AggregateDocument? MppVoltage,
    AggregateDocument? BatteryVoltage, AggregateDocument? BatteryChargeEstimate, AggregateDocument? BatteryHealthEstimate,
    AggregateDocument? BatteryTemperature, AggregateDocument? LowVoltageDisconnectVoltage, AggregateDocument? TemperatureCorrectedVoltage);

public sealed record AggregateDocument(double Avg, double Min, double Max);
