using Isems.Actors.Alerts;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The alerts of §8: those firing, and those resolved in the last 7 days.</summary>
[ApiController]
[Route("alerts")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class AlertsController(ActorAsk<AlertBookActor> ask) : ControllerBase
{
    /// <param name="nodeId">Only this node's alerts.</param>
    /// <param name="state"><c>firing</c> or <c>resolved</c>; both when left out.</param>
    /// <param name="cancellationToken">The request's.</param>
    [HttpGet]
    [EndpointSummary("The alerts firing, and those resolved in the last 7 days")]
    [ProducesResponseType<AlertListJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public async Task<IActionResult> All([FromQuery] string? nodeId, [FromQuery] string? state, CancellationToken cancellationToken)
    {
        AlertState? only = state switch
        {
            "firing" => AlertState.Firing,
            "resolved" => AlertState.Resolved,
            _ => null,
        };
        if (only is null && !string.IsNullOrEmpty(state))
            return Problem(statusCode: StatusCodes.Status400BadRequest, title: "Unknown alert state",
                detail: $"state must be 'firing' or 'resolved' (or left out for both), not '{state}'.");
        if (await ask.AskAsync(new GetAlerts(string.IsNullOrEmpty(nodeId) ? null : nodeId, only), cancellationToken) is not AlertList list)
            return ask.Unavailable(this);
        return Ok(new AlertListJson(list.Alerts.Select(AlertJson.From).ToList()));
    }
}

public sealed record AlertListJson(IReadOnlyList<AlertJson> Alerts);

/// <summary>One alert as §8 shows it; instants in UTC with <c>Z</c>.</summary>
public sealed record AlertJson(
    string Alertname, string NodeId, string Severity, string State, DateTimeOffset StartsAt, DateTimeOffset? EndsAt, string Summary)
{
    public static AlertJson From(Alert a) => new(a.AlertName, a.NodeId, a.Severity, a.State == AlertState.Firing ? "firing" : "resolved",
        a.StartsAt.ToUniversalTime(), a.EndsAt?.ToUniversalTime(), a.Summary);
}
