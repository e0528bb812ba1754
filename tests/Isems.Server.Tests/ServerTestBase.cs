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

    /// <summary>Polls real I/O (HTTP, a broker) until the condition holds.</summary>
    protected static async Task AwaitAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 15 s");
            await Task.Delay(50);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Fleet.DisposeAsync();
        Temp.Dispose();
    }
}
