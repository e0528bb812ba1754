using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Isems.Server.Tests;

/// <summary>The real collector host (Program), started in-process with settings as an operator would give them.</summary>
public sealed class CollectorHost : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string> _settings;

    public CollectorHost(IReadOnlyDictionary<string, string> settings) => _settings = settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    /// <summary>
    /// What update-data does for one node: poll now, through the running actors, under the node's key, found by its
    /// key, id or log URL in the fleet's status (a node configured by its address is under its id once identified).
    /// </summary>
    public async Task<PollOutcome> PollNowAsync(string node)
    {
        var fleet = await Services.GetRequiredService<IRequiredActor<FleetStatusActor>>().ActorRef
            .Ask<FleetStatus>(new GetFleetStatus(), TimeSpan.FromSeconds(30));
        // The node by its key first, then by the id its lines carry or its log's URL: while the registry moves a node
        // from its address to its id, the read model may still list it under its address.
        var keys = fleet.Nodes.Where(n => n.NodeKey == node).Concat(fleet.Nodes.Where(n => n.NodeId == node || n.LogUrl?.ToString() == node))
            .Select(n => n.NodeKey).Append(node).Distinct().ToList();
        var manager = Services.GetRequiredService<IRequiredActor<NodeManagerActor>>().ActorRef;
        foreach (var key in keys)
            if (await manager.Ask<object>(new PollNow(key), TimeSpan.FromSeconds(30)) is PollOutcome outcome) return outcome;
        throw new InvalidOperationException($"no node '{node}' to poll");
    }
}
