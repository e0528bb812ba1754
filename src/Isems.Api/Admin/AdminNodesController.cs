using System.Text.Json;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.Api.Controllers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Admin;

/// <summary>
/// Operators add, change and remove nodes while the collector runs. Every change goes to the node registry, which
/// persists it before it takes effect; this controller only checks requests and translates answers.
/// </summary>
[ApiController]
[Route("admin/nodes")]
[TypeFilter<AdminTokenFilter>]
[ProducesResponseType<ProblemDetails>(StatusCodes.Status401Unauthorized, "application/problem+json")]
[ProducesResponseType<ProblemDetails>(StatusCodes.Status403Forbidden, "application/problem+json")]
public sealed class AdminNodesController(
    ActorAsk<NodeRegistryActor> registry,
    NodeQueries nodes,
    PollingOptions polling) : ControllerBase
{
    /// <summary>Every registered node, with its health.</summary>
    [HttpGet]
    [ProducesResponseType<AdminNodeList>(StatusCodes.Status200OK)]
    public async Task<IActionResult> List(CancellationToken cancellationToken)
    {
        if (await registry.AskAsync(new GetRegisteredNodes(), cancellationToken) is not RegistryEntries entries)
            return registry.Unavailable(this);
        // Each registered node has one key, the registry's; its status is kept under the same key by the read model.
        var health = await nodes.FleetStatusAsync(cancellationToken) is { } fleet
            ? fleet.Nodes.ToDictionary(s => s.NodeKey, StringComparer.Ordinal)
            : [];
        return Ok(new AdminNodeList(entries.Nodes.Select(n => AdminNodeJson.From(n, health.GetValueOrDefault(n.Key))).ToList()));
    }

    /// <summary>One registered node, with its health.</summary>
    [HttpGet("{id}")]
    [ProducesResponseType<AdminNodeJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public async Task<IActionResult> One(string id, CancellationToken cancellationToken) =>
        await registry.AskAsync(new GetRegisteredNode(id), cancellationToken) switch
        {
            RegistryEntry entry => Ok(await WithHealthAsync(entry.Node, cancellationToken)),
            RegistryRefusal refusal => Refused(refusal),
            _ => registry.Unavailable(this),
        };

    /// <summary>Add a node: it is polled at once, then on its schedule.</summary>
    [HttpPost]
    [Consumes(typeof(AddNodeRequest), "application/json")]
    [ProducesResponseType<AdminNodeJson>(StatusCodes.Status201Created)]
    [ProducesResponseType<ValidationProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status409Conflict, "application/problem+json")]
    public async Task<IActionResult> Add(CancellationToken cancellationToken)
    {
        var (fields, invalid) = await ReadAsync(routeId: null, cancellationToken);
        if (invalid is not null) return invalid;
        var add = new AddNode(fields!.Id!, fields.Url!, fields.IntervalSeconds?.Value, fields.TimeoutSeconds?.Value,
            fields.Enabled ?? true, fields.Note?.Value, fields.MutedAlerts);
        return await registry.AskAsync(add, cancellationToken, ChangeTimeout) switch
        {
            RegistryEntry entry => Created($"/admin/nodes/{Uri.EscapeDataString(entry.Node.Id)}", AdminNodeJson.From(entry.Node, null)),
            RegistryRefusal refusal => Refused(refusal),
            _ => registry.Unavailable(this),
        };
    }

    /// <summary>
    /// A change is answered once its journal entry is committed, and a burst of changes (a script adding a fleet)
    /// commits one after another: answering 503 while the change still lands would make the script's retry a 409.
    /// </summary>
    private static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Change any of a node's fields but its id; a new URL or interval takes effect at once.</summary>
    [HttpPatch("{id}")]
    [Consumes(typeof(ChangeNodeRequest), "application/json")]
    [ProducesResponseType<AdminNodeJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status409Conflict, "application/problem+json")]
    public async Task<IActionResult> Change(string id, CancellationToken cancellationToken)
    {
        var (fields, invalid) = await ReadAsync(routeId: id, cancellationToken);
        if (invalid is not null) return invalid;
        return await registry.AskAsync(new ChangeNode(id, fields!.ToChanges()), cancellationToken, ChangeTimeout) switch
        {
            RegistryEntry entry => Ok(await WithHealthAsync(entry.Node, cancellationToken)),
            RegistryRefusal refusal => Refused(refusal),
            _ => registry.Unavailable(this),
        };
    }

    /// <summary>Stop polling a node and forget its configuration; its stored rows stay unless <c>purge=true</c>.</summary>
    [HttpDelete("{id}")]
    [ProducesResponseType<RemovedNodeJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public async Task<IActionResult> Remove(string id, [FromQuery] bool purge, CancellationToken cancellationToken) =>
        // A purge waits for the writer, which may be working through a backlog.
        await registry.AskAsync(new RemoveNode(id, purge), cancellationToken, TimeSpan.FromSeconds(30)) switch
        {
            NodeRetired retired => Ok(new RemovedNodeJson(id, purge, retired.RowsDeleted)),
            RegistryRefusal refusal => Refused(refusal),
            _ => Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Removal not confirmed",
                detail: "The collector did not confirm the removal within 30 s. GET /admin/nodes/" + id +
                        " tells whether it is still registered; a purge finishes when the database answers."),
        };

    /// <summary>Poll the node now (even a disabled one) and answer with what came.</summary>
    [HttpPost("{id}/poll")]
    [ProducesResponseType<PollOutcomeJson>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status502BadGateway, "application/problem+json")]
    public async Task<IActionResult> Poll(string id, CancellationToken cancellationToken)
    {
        var answer = await registry.AskAsync(new GetRegisteredNode(id), cancellationToken);
        if (answer is RegistryRefusal refusal) return Refused(refusal);
        if (answer is not RegistryEntry entry) return registry.Unavailable(this);

        var timeout = entry.Node.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : polling.Timeout;
        if (await nodes.PollNowAsync(entry.Node.Key, timeout + TimeSpan.FromSeconds(30), cancellationToken) is not { } outcome)
            return registry.Unavailable(this);
        var json = PollOutcomeJson.From(id, outcome);
        if (outcome.Succeeded) return Ok(json);
        var failed = Problem(statusCode: StatusCodes.Status502BadGateway, title: "The node did not answer as it should",
            detail: $"Polling {entry.Node.Url} failed: {outcome.Error}");
        ((ProblemDetails)failed.Value!).Extensions["outcome"] = json;
        return failed;
    }

    private async Task<AdminNodeJson> WithHealthAsync(RegisteredNode node, CancellationToken cancellationToken) =>
        // The node's own actor, not the read model: the answer to a change shows the change (the registry told the node
        // before it answered), and one node's question routes by its key like any other message to it.
        AdminNodeJson.From(node, await nodes.OwnStatusAsync(node.Key, cancellationToken));

    private async Task<(NodeFields? Fields, IActionResult? Invalid)> ReadAsync(string? routeId, CancellationToken cancellationToken)
    {
        if (!Request.HasJsonContentType())
            return (null, Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Send JSON",
                detail: "Send the node as a JSON object with 'Content-Type: application/json'."));
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(Request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException error)
        {
            return (null, Problem(statusCode: StatusCodes.Status400BadRequest, title: "The body is not valid JSON",
                detail: $"The body is not valid JSON ({error.Message}). Send one object, for example " +
                        """{"id":"Router-1","url":"10.36.158.33"}."""));
        }
        using (document)
        {
            var (fields, errors) = NodeRequestReader.Read(document.RootElement, routeId);
            if (fields is not null) return (fields, null);
            var problem = new ValidationProblemDetails(errors)
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "The node request is not valid",
                Detail = string.Join(" ", errors.Values.SelectMany(messages => messages)),
            };
            return (null, new ObjectResult(problem) { StatusCode = 400, ContentTypes = { "application/problem+json" } });
        }
    }

    private ObjectResult Refused(RegistryRefusal refusal) => refusal.Kind switch
    {
        RefusalKind.NotFound => Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown node", detail: refusal.Message),
        _ => Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: refusal.Message),
    };
}
