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

    /// <summary>What update-data does for one node: poll now, through the running actors.</summary>
    public Task<PollOutcome> PollNowAsync(string nodeKey) =>
        Services.GetRequiredService<IRequiredActor<NodeManagerActor>>().ActorRef
            .Ask<PollOutcome>(new PollNow(nodeKey), TimeSpan.FromSeconds(30));
}
