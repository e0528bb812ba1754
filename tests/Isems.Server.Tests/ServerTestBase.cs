using Isems.Simulator;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>Simulated nodes and a SQLite file of the test's own, and the settings an operator would give for them.</summary>
public abstract class ServerTestBase : IAsyncLifetime
{
    protected readonly TempDirectory Temp = new();
    protected readonly SimulatedFleet Fleet = SimulatedFleet.Start();

    protected string DatabaseUrl => $"sqlite:///{Temp.File("isems.db")}";

    /// <summary>A long interval: tests poll with PollNow, so nothing is polled behind their back.</summary>
    protected Dictionary<string, string> Settings(params SimulatedNode[] nodes) => new()
    {
        ["DATABASE_URL"] = DatabaseUrl,
        ["ISEMS_ROUTER_IPS"] = string.Join(",", nodes.Select(n => n.LogUrl)),
        ["POLL_INTERVAL_SECONDS"] = "86400",
    };

    /// <summary>Waits for something that happens on the collector's own time (a poll, a message), by default up to 15 s.</summary>
    protected static async Task Eventually(Func<Task<bool>> condition, string what = "condition", TimeSpan? within = null)
    {
        var limit = within ?? TimeSpan.FromSeconds(15);
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not met within {limit.TotalSeconds:0} s");
            await Task.Delay(50);
        }
    }

    protected static Task Eventually(Func<bool> condition, string what = "condition", TimeSpan? within = null) =>
        Eventually(() => Task.FromResult(condition()), what, within);

    /// <summary>How many rows <c>/measurements/{nodeId}/latest</c> answers with.</summary>
    protected static async Task<int> HistoryCount(HttpClient client, string nodeId) =>
        System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync($"/measurements/{Uri.EscapeDataString(nodeId)}/latest"))!
            ["measurements"]!.AsArray().Count;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Fleet.DisposeAsync();
        Temp.Dispose();
    }
}
