using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;

namespace Isems.Api.Controllers;

/// <summary>
/// The questions controllers ask about nodes, typed, each sent to the one actor that answers it (the read models for
/// fleet-wide answers, a node's own actor by its key), all under one rule: <see cref="ApiOptions.AskTimeout"/> and
/// the request's cancellation, null when no answer came in time (the controller answers 503).
/// </summary>
public sealed class NodeQueries(
    IRequiredActor<FleetLatestActor> latest, IRequiredActor<FleetStatusActor> status, IRequiredActor<NodeManagerActor> nodes,
    ApiOptions options)
{
    /// <summary>Every node's newest measurement (the read model of <c>/measurements/latest</c>).</summary>
    public Task<FleetLatest?> FleetLatestAsync(CancellationToken cancellationToken) =>
        AskAsync<FleetLatest>(latest.ActorRef, new GetFleetLatest(), cancellationToken);

    /// <summary>Every node's status (the read model of <c>/nodes</c>, the admin list and the metrics).</summary>
    public Task<FleetStatus?> FleetStatusAsync(CancellationToken cancellationToken) =>
        AskAsync<FleetStatus>(status.ActorRef, new GetFleetStatus(), cancellationToken);

    /// <summary>A node's status by its key or the id its lines carry, from the read model: a <see cref="NodeStatus"/> or <see cref="NodeNotFound"/>.</summary>
    public Task<object?> FindStatusAsync(string id, CancellationToken cancellationToken) =>
        AskAsync<object>(status.ActorRef, new FindNodeStatus(id), cancellationToken);

    /// <summary>
    /// A node's status from its own actor, by its key: what a change just told it shows (the registry tells the node
    /// before it answers the change). Null for a node with no actor, or no answer in time.
    /// </summary>
    public async Task<NodeStatus?> OwnStatusAsync(string key, CancellationToken cancellationToken) =>
        await AskAsync<object>(nodes.ActorRef, new GetNodeStatus(key), cancellationToken) as NodeStatus;

    /// <summary>Poll the node now; waits up to <paramref name="timeout"/> (a poll takes the node's own timeout and the write).</summary>
    public async Task<PollOutcome?> PollNowAsync(string key, TimeSpan timeout, CancellationToken cancellationToken) =>
        await AskAsync<object>(nodes.ActorRef, new PollNow(key), cancellationToken, timeout) as PollOutcome;

    private async Task<T?> AskAsync<T>(IActorRef actor, object question, CancellationToken cancellationToken, TimeSpan? timeout = null)
        where T : class
    {
        try
        {
            return await actor.Ask<object>(question, timeout ?? options.AskTimeout, cancellationToken) as T;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }
}
