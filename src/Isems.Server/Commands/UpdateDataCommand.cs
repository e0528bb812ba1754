using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Isems.Actors.Registry;
using Isems.Server.Configuration;
using Isems.Server.Hosting;

namespace Isems.Server.Commands;

/// <summary>
/// <c>update-data</c>: polls every configured node once through the same actors as the service, prints one line per
/// node, and exits non-zero if any node failed — for those who ran the original's <c>flask update-data</c> from cron.
/// </summary>
public static class UpdateDataCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter? output = null)
    {
        output ??= Console.Out;
        var builder = Host.CreateApplicationBuilder(args);
        if (!ConfigurationCheck.Passes(builder.Configuration)) return 2;
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddIsemsCollector(builder.Configuration, scheduled: false);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            // The registry as the service would see it: operators' nodes and ISEMS_ROUTER_IPS, merged in memory only.
            var registry = host.Services.GetRequiredService<IRequiredActor<NodeRegistryActor>>().ActorRef;
            var registered = await registry.Ask<RegistryEntries>(new GetRegisteredNodes(), TimeSpan.FromSeconds(30));
            var targets = registered.Nodes.Where(n => n.Enabled).ToList();
            if (targets.Count == 0)
            {
                await Console.Error.WriteLineAsync(
                    "No nodes to poll: set ISEMS_ROUTER_IPS (comma-separated IPs, host:port or URLs), or add nodes with POST /admin/nodes.");
                return 2;
            }
            var nodes = host.Services.GetRequiredService<IRequiredActor<NodeManagerActor>>().ActorRef;
            var options = host.Services.GetRequiredService<Isems.Actors.Polling.PollingOptions>();
            var timeout = options.Timeout + TimeSpan.FromSeconds(60);
            var outcomes = await Task.WhenAll(targets.Select(t => nodes.Ask<PollOutcome>(new PollNow(t.Key), timeout)));

            // A node from configuration is shown by its URL, as it was given, with the id its lines carry.
            foreach (var (target, o) in targets.Zip(outcomes))
                await output.WriteLineAsync(Describe(target.Source == NodeSource.Configuration ? o with { NodeKey = target.Url.ToString() } : o));
            return outcomes.All(o => o.Succeeded) ? 0 : 1;
        }
        finally
        {
            await host.StopAsync();
        }
    }

    public static string Describe(PollOutcome o)
    {
        var who = o.NodeId is null || o.NodeId == o.NodeKey ? o.NodeKey : $"{o.NodeKey} ({o.NodeId})";
        return o.Succeeded
            ? $"{who}: stored {o.Stored}, duplicates {o.Duplicates}, rejected {o.Rejected.Total}{(o.Error is null ? "" : $" ({o.Error})")}"
            : $"{who}: failed: {o.Error}";
    }
}
