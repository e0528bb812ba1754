using Isems.Simulator;

namespace Isems.Server.Demo;

/// <summary>
/// <c>--demo</c>: a few simulated nodes on loopback that keep logging in real time, polled every 10 s, and two ESP
/// boards that push their lines through the embedded MQTT broker, stored in a database of their own, so a newcomer
/// sees both paths carry data through the collector within seconds of the first command.
/// </summary>
public sealed class DemoFleet : IAsyncDisposable
{
    private readonly SimulatedFleet _fleet;
    private readonly IReadOnlyList<SimulatedNode> _polled, _pushing;
    private readonly SimulatedNode _spare;

    /// <summary>The admin token of the demo, unless the operator set ISEMS_ADMIN_TOKEN.</summary>
    public const string AdminToken = "demo";
    private readonly int _brokerPort = FreePort();
    private readonly SimulatedPublisher _publisher;
    private readonly Timer _routerClock, _espClock;

    private DemoFleet(SimulatedFleet fleet)
    {
        _fleet = fleet;
        _publisher = new SimulatedPublisher("127.0.0.1", _brokerPort, "isems-demo-nodes");
        _pushing = fleet.Nodes.Where(n => n.NodeId.StartsWith("Demo-ESP-Push")).ToList();
        _spare = fleet.Nodes.Single(n => n.NodeId == SpareNodeId);
        _polled = fleet.Nodes.Except(_pushing).Except([_spare]).ToList();
        var routers = fleet.Nodes.Where(n => n.Kind == NodeKind.Router).ToList();
        var esps = fleet.Nodes.Where(n => n.Kind == NodeKind.Esp).ToList();
        // Routers log a line a minute, ESP boards every 15 s (SPEC §1); the demo keeps to that in real time.
        _routerClock = new Timer(_ => routers.ForEach(n => n.Append()), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        _espClock = new Timer(_ =>
        {
            esps.ForEach(n => n.Append());
            _ = PublishNowAsync();
        }, null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));
    }

    private const string SpareNodeId = "Demo-Router-Spare";

    /// <summary>
    /// The demo's database, in the system's temporary directory: <c>dotnet run --project src/Isems.Server</c> runs in
    /// the project's folder, and a database there ended up beside the sources.
    /// </summary>
    public static string DemoDatabase { get; } = Path.Combine(Path.GetTempPath(), "isems-collector-demo", "demo.db");

    public static DemoFleet Start()
    {
        var fleet = SimulatedFleet.Start();
        foreach (var i in Enumerable.Range(1, 4)) fleet.AddNode($"Demo-Router-{i}", NodeKind.Router, historyLines: 120);
        foreach (var i in Enumerable.Range(1, 2)) fleet.AddNode($"Demo-ESP-{i}", NodeKind.Esp, historyLines: 5);
        foreach (var i in Enumerable.Range(1, 2)) fleet.AddNode($"Demo-ESP-Push-{i}", NodeKind.Esp, historyLines: 5);
        fleet.AddNode(SpareNodeId, NodeKind.Router, historyLines: 60);
        return new DemoFleet(fleet);
    }

    /// <summary>Settings the demo supplies unless the operator set them: the simulated nodes, a short interval, a demo database.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings(IConfiguration configuration)
    {
        yield return new("ISEMS_ROUTER_IPS", string.Join(",", _polled.Select(n => n.LogUrl)));
        if (string.IsNullOrEmpty(configuration["MQTT_SERVER"]) && string.IsNullOrEmpty(configuration["MQTT_EMBEDDED_BROKER_PORT"]))
            yield return new("MQTT_EMBEDDED_BROKER_PORT", _brokerPort.ToString());
        if (string.IsNullOrEmpty(configuration["POLL_INTERVAL_SECONDS"])) yield return new("POLL_INTERVAL_SECONDS", "10");
        if (string.IsNullOrEmpty(configuration["DATABASE_URL"])) yield return new("DATABASE_URL", "sqlite:///" + DemoDatabase);
        if (string.IsNullOrEmpty(configuration["ISEMS_ADMIN_TOKEN"])) yield return new("ISEMS_ADMIN_TOKEN", AdminToken);
    }

    /// <summary>Pushes every pushing node's last lines; also called once the collector (and its broker) is up.</summary>
    public async Task PublishNowAsync()
    {
        foreach (var node in _pushing) await _publisher.PublishAsync(node);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void PrintWelcome(ICollection<string> urls)
    {
        var url = urls.FirstOrDefault() ?? "http://localhost:5000";
        Console.WriteLine($$"""

            Demo: {{_polled.Count}} simulated nodes at {{_fleet.BaseAddress}} are polled every 10 s, and
            {{_pushing.Count}} publish to the embedded MQTT broker on port {{_brokerPort}} every 15 s.
            The dashboard: {{url}}/  (the fleet, each node's charts, a map; "Manage nodes" takes the admin token '{{AdminToken}}'
            and adds the spare node: id {{SpareNodeId}}, URL {{_spare.LogUrl}})
              curl {{url}}/measurements/latest
              curl {{url}}/nodes
              curl {{url}}/mqtt
              curl {{url}}/measurements/Demo-Router-1/latest
            One more simulated router is not configured yet; add it at runtime (admin token '{{AdminToken}}'):
              curl -H 'Authorization: Bearer {{AdminToken}}' -H 'Content-Type: application/json' \
                   -d '{"id":"{{SpareNodeId}}","url":"{{_spare.LogUrl}}"}' {{url}}/admin/nodes
              curl {{url}}/nodes/{{SpareNodeId}}
            The API reference: {{url}}/docs; the metrics: {{url}}/metrics
            The demo's database (unless DATABASE_URL says otherwise): {{DemoDatabase}}
            Ctrl+C stops the collector and the simulated nodes.

            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _routerClock.DisposeAsync();
        await _espClock.DisposeAsync();
        await _publisher.DisposeAsync();
        await _fleet.DisposeAsync();
    }
}
