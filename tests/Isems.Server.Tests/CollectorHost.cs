using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Isems.Actors.Registry;
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
    /// What update-data does for one node: poll now, through the running actors, under the key the registry has for
    /// the node with this id, key or URL (a node configured by its address is under its id once it was identified).
    /// </summary>
    public async Task<PollOutcome> PollNowAsync(string node)
    {
        var registered = await Services.GetRequiredService<IRequiredActor<NodeRegistryActor>>().ActorRef
            .Ask<RegistryEntries>(new GetRegisteredNodes(), TimeSpan.FromSeconds(30));
        var key = registered.Nodes.FirstOrDefault(n => n.Id == node || n.Key == node || n.Url.ToString() == node)?.Key ?? node;
        return await Services.GetRequiredService<IRequiredActor<NodeManagerActor>>().ActorRef
            .Ask<PollOutcome>(new PollNow(key), TimeSpan.FromSeconds(30));
    }
}
