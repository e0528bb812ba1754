using Isems.Actors.Nodes;
using Isems.Api.Json;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>Each node's health: which nodes are down, since when, and why.</summary>
[ApiController]
[Route("nodes")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class NodesController(NodeQueries queries, ActorAsk<FleetStatusActor> ask, NodeStatusJsonCache cache, IOptions<JsonOptions> json)
    : ControllerBase
{
    /// <summary>Every node's status, from the read model the node actors keep current; one body per version.</summary>
    [HttpGet]
    [EndpointSummary("Every node's health: state, last attempt and success, last error, lines stored")]
    [ProducesResponseType<NodeStatusList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> All(CancellationToken cancellationToken)
    {
        if (await queries.FleetStatusAsync(cancellationToken) is not { } fleet)
            return ask.Unavailable(this);
        return File(cache.Body(fleet, json.Value.JsonSerializerOptions), "application/json; charset=utf-8");
    }

    [HttpGet("{nodeId}")]
    [EndpointSummary("One node's health")]
    [ProducesResponseType<NodeStatusJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public async Task<IActionResult> One(string nodeId, CancellationToken cancellationToken) =>
        await queries.FindStatusAsync(nodeId, cancellationToken) switch
        {
            NodeStatus status => Ok(NodeStatusJson.From(status)),
            NodeNotFound => Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown node",
                detail: $"No node '{nodeId}' is polled or has stored data. GET /nodes lists the known nodes."),
            _ => ask.Unavailable(this),
        };
}
