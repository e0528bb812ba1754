using Isems.Simulator;

namespace Isems.Server.Demo;

/// <summary>
/// <c>--demo</c>: a few simulated nodes on loopback that keep logging in real time, polled every 10 s, stored in a
/// database of their own, so a newcomer sees data flow through the collector within seconds of the first command.
/// </summary>
public sealed class DemoFleet : IAsyncDisposable
{
    private readonly SimulatedFleet _fleet;
    private readonly Timer _routerClock, _espClock;

    private DemoFleet(SimulatedFleet fleet)
    {
        _fleet = fleet;
        var routers = fleet.Nodes.Where(n => n.Kind == NodeKind.Router).ToList();
        var esps = fleet.Nodes.Where(n => n.Kind == NodeKind.Esp).ToList();
        // Routers log a line a minute, ESP boards every 15 s (SPEC §1); the demo keeps to that in real time.
        _routerClock = new Timer(_ => routers.ForEach(n => n.Append()), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        _espClock = new Timer(_ => esps.ForEach(n => n.Append()), null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));
    }

    public static DemoFleet Start()
    {
        var fleet = SimulatedFleet.Start();
        foreach (var i in Enumerable.Range(1, 4)) fleet.AddNode($"Demo-Router-{i}", NodeKind.Router, historyLines: 120);
        foreach (var i in Enumerable.Range(1, 2)) fleet.AddNode($"Demo-ESP-{i}", NodeKind.Esp, historyLines: 5);
        return new DemoFleet(fleet);
    }

    /// <summary>Settings the demo supplies unless the operator set them: the simulated nodes, a short interval, a demo database.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings(IConfiguration configuration)
    {
        yield return new("ISEMS_ROUTER_IPS", string.Join(",", _fleet.Nodes.Select(n => n.LogUrl)));
        if (string.IsNullOrEmpty(configuration["POLL_INTERVAL_SECONDS"])) yield return new("POLL_INTERVAL_SECONDS", "10");
        if (string.IsNullOrEmpty(configuration["DATABASE_URL"])) yield return new("DATABASE_URL", "sqlite:///data/demo.db");
    }

    public void PrintWelcome(ICollection<string> urls)
    {
        var url = urls.FirstOrDefault() ?? "http://localhost:5000";
        Console.WriteLine($"""

            Demo: {_fleet.Nodes.Count} simulated nodes at {_fleet.BaseAddress} are polled every 10 s.
              curl {url}/measurements/latest
              curl {url}/nodes
              curl {url}/measurements/Demo-Router-1/latest
            Ctrl+C stops the collector and the simulated nodes.

            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _routerClock.DisposeAsync();
        await _espClock.DisposeAsync();
        await _fleet.DisposeAsync();
    }
}
