using Isems.Actors.Nodes;
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
    ActorAsk<NodeManagerActor> ask, MeasurementStore store, ApiOptions options, TimeProvider clock, LatestJsonCache cache) : ControllerBase
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
        return File(cache.Body(fleet, includeInactive, cutoff), JsonContentType);
    }

    /// <summary>A node's newest 1440 measurements, newest first; an unknown node gives an empty list, as the original.</summary>
    [HttpGet("{nodeId}/latest")]
    [ProducesResponseType<MeasurementList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> ForNode(string nodeId, CancellationToken cancellationToken)
    {
        var rows = await store.HistoryAsync(nodeId, HistoryLimit, cancellationToken);
        return File(MeasurementJsonWriter.ToUtf8(rows), JsonContentType);
    }

    private const string JsonContentType = "application/json; charset=utf-8";
}
