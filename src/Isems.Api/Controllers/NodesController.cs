using Isems.Actors.Nodes;
using Isems.Api.Json;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>Each node's health: which nodes are down, since when, and why.</summary>
[ApiController]
[Route("nodes")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class NodesController(ActorAsk<NodeManagerActor> ask) : ControllerBase
{
    [HttpGet]
    [EndpointSummary("Every node's health: state, last attempt and success, last error, lines stored")]
    [ProducesResponseType<NodeStatusList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> All(CancellationToken cancellationToken)
    {
        if (await ask.AskAsync(new GetFleetStatus(), cancellationToken) is not FleetStatus fleet)
            return ask.Unavailable(this);
        return Ok(new NodeStatusList(fleet.Nodes.Select(NodeStatusJson.From).ToList()));
    }

    [HttpGet("{nodeId}")]
    [EndpointSummary("One node's health")]
    [ProducesResponseType<NodeStatusJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public async Task<IActionResult> One(string nodeId, CancellationToken cancellationToken) =>
        await ask.AskAsync(new GetNodeStatus(nodeId), cancellationToken) switch
        {
            NodeStatus status => Ok(NodeStatusJson.From(status)),
            NodeNotFound => Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown node",
                detail: $"No node '{nodeId}' is polled or has stored data. GET /nodes lists the known nodes."),
            _ => ask.Unavailable(this),
        };
}
