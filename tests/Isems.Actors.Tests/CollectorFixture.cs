using Akka.Actor;
using Akka.TestKit.Xunit2;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Akka.Hosting;
using Isems.Actors.Writing;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// The real pieces under the actors: a SQLite file, simulated nodes over loopback HTTP, the writer and the manager.
/// Time is virtual (TestScheduler): schedules and backoff advance only when a test says so; fetches are real.
/// </summary>
public abstract class CollectorTestKit : TestKit, IAsyncLifetime
{
    public const string VirtualTime = """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = INFO
        """;

    protected readonly TempDirectory Temp = new();
    protected readonly SimulatedFleet Fleet = SimulatedFleet.Start();
    protected readonly MeasurementStore Store;

    protected CollectorTestKit(ITestOutputHelper output) : base(VirtualTime, output: output)
    {
        Store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Temp.File("isems.db")}", Temp.Path));
        Store.Migrate();
    }

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    protected static readonly PollingOptions DefaultPolling = new()
    {
        Interval = TimeSpan.FromSeconds(60),
        Timeout = TimeSpan.FromSeconds(2),
        Retries = 3,
        JitterSeed = 7,
    };

    protected IActorRef StartNodes(PollingOptions? polling = null)
    {
        var options = polling ?? DefaultPolling;
        var writer = Sys.ActorOf(MeasurementWriterActor.Props(Store, new WriterOptions()), "writer");
        return Sys.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(options), options), "nodes");
    }

    /// <summary>
    /// The node's status from its actor, or, for a key no actor has (a node's id while it is still under its address),
    /// from the fleet's status read model.
    /// </summary>
    protected NodeStatus StatusOf(IActorRef nodes, string key) =>
        nodes.Ask<object>(new GetNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult() as NodeStatus
        ?? nodes.Ask<NodeStatus>(new FindNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();

    /// <summary>The node registry (journal in memory), found by the node actors through the ActorRegistry.</summary>
    protected IActorRef StartRegistry(IActorRef nodes)
    {
        var registry = Sys.ActorOf(NodeRegistryActor.Props(nodes, $"node-registry-{Guid.NewGuid():N}"), "node-registry");
        ActorRegistry.For(Sys).Register<NodeRegistryActor>(registry);
        return registry;
    }

    /// <summary>
    /// The node registry (journal in memory) as the collector starts it: <paramref name="configured"/> (ISEMS_ROUTER_IPS)
    /// merged in once it has recovered. Returned once merged; found by the node actors unless <paramref name="register"/> is false.
    /// </summary>
    protected async Task<IActorRef> StartRegistryAsync(
        IActorRef nodes, IReadOnlyList<Uri> configured, bool register = true, string name = "node-registry", string? stream = null)
    {
        var startup = new CollectorStartup();
        var registry = Sys.ActorOf(NodeRegistryActor.Props(nodes, stream ?? $"node-registry-{Guid.NewGuid():N}", configured, startup: startup), name);
        if (register) ActorRegistry.For(Sys).Register<NodeRegistryActor>(registry);
        await startup.Merged.WaitAsync(TimeSpan.FromSeconds(5));
        return registry;
    }

    /// <summary>Waits (in real time) until the node has finished <paramref name="polls"/> attempts and armed its next timer.</summary>
    protected NodeStatus AwaitPolls(IActorRef nodes, string key, long polls)
    {
        NodeStatus status = null!;
        AwaitAssert(() =>
        {
            status = StatusOf(nodes, key);
            Assert.Equal(polls, status.Polls);
            Assert.NotNull(status.NextPoll);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        return status;
    }

    /// <summary>Moves virtual time to the node's next poll and waits for that attempt to finish.</summary>
    protected NodeStatus PollOnce(IActorRef nodes, string key)
    {
        var before = AwaitArmed(nodes, key);
        Scheduler.Advance(before.NextPoll!.Value - Scheduler.Now + TimeSpan.FromMilliseconds(1));
        return AwaitPolls(nodes, key, before.Polls + 1);
    }

    protected NodeStatus AwaitArmed(IActorRef nodes, string key)
    {
        NodeStatus status = null!;
        AwaitAssert(() =>
        {
            status = StatusOf(nodes, key);
            Assert.NotNull(status.NextPoll);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        return status;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Fleet.DisposeAsync();
        Shutdown();
        Store.Dispose();
        Temp.Dispose();
    }
}
