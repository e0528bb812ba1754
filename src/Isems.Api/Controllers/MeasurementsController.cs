using Isems.Actors.Nodes;
using Isems.Actors.Writing;
using Isems.Api.Json;
using Isems.Storage;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The two endpoints the isems-app and existing scripts call; their JSON is the original's (SPEC §3).</summary>
[ApiController]
[Route("measurements")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class MeasurementsController(
    ActorAsk<NodeManagerActor> ask, ActorAsk<RowVersionsActor> versions, MeasurementStore store, ApiOptions options,
    TimeProvider clock, LatestJsonCache cache, HistoryJsonCache histories) : ControllerBase
{
    /// <summary>How many rows <c>/measurements/{nodeId}/latest</c> returns: a day of a router's lines, as the original.</summary>
    public const int HistoryLimit = 1440;

    /// <summary>The newest measurement of every active node (every node with <c>?all=true</c>), ordered by node id.</summary>
    [HttpGet("latest")]
    [ProducesResponseType<MeasurementList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Latest([FromQuery] string? all, CancellationToken cancellationToken)
    {
        if (await ask.AskAsync(new GetFleetLatest(), cancellationToken) is not FleetLatest fleet)
            return ask.Unavailable(this);

        var includeInactive = string.Equals(all, "true", StringComparison.OrdinalIgnoreCase);
        var cutoff = (clock.GetUtcNow() - options.HideInactiveAfter).ToUnixTimeSeconds();
        return cache.Body(fleet, includeInactive, cutoff).Serve(this);
    }

    /// <summary>A node's newest 1440 measurements, newest first; an unknown node gives an empty list, as the original.</summary>
    [HttpGet("{nodeId}/latest")]
    [ProducesResponseType<MeasurementList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> ForNode(string nodeId, CancellationToken cancellationToken)
    {
        // The version is read before the rows, so a body is never older than the version it is kept under.
        var version = await versions.AskAsync(new GetRowVersion(nodeId), cancellationToken) as RowVersion;
        if (version is not null && histories.TryGet(version, "", out var cached)) return cached.Serve(this);
        var body = new Representation(MeasurementJsonWriter.ToUtf8(await store.HistoryAsync(nodeId, HistoryLimit, cancellationToken)));
        if (version is not null) histories.Put(version, "", body);
        return body.Serve(this);
    }
}
