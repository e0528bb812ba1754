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
/// The real pieces under the actors: a SQLite file, simulated nodes over loopback HTTP, and the collector's actors
/// composed by the product's own Akka.Hosting extensions (<see cref="TestCollector"/>), in an actor system of their
/// own; the test kit's system holds the probes. Time is virtual (TestScheduler): schedules and backoff advance only
/// when a test says so; fetches are real.
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

    /// <summary>The collector's virtual clock once one is started; before that, the test kit's own.</summary>
    protected TestScheduler Scheduler => Collector?.Scheduler ?? (TestScheduler)Sys.Scheduler;

    protected static readonly PollingOptions DefaultPolling = new()
    {
        Interval = TimeSpan.FromSeconds(60),
        Timeout = TimeSpan.FromSeconds(2),
        Retries = 3,
        JitterSeed = 7,
    };

    /// <summary>The collector the test started (<see cref="StartCollectorAsync"/>), if any; stopped when the test ends.</summary>
    protected TestCollector? Collector { get; private set; }

    /// <summary>
    /// Starts the collector's actors as the product composes them (<see cref="TestCollector"/>) over the test's store,
    /// and returns it; with <paramref name="configured"/> the node registry runs too, once it has merged them.
    /// </summary>
    protected async Task<TestCollector> StartCollectorAsync(
        PollingOptions? polling = null, IReadOnlyList<Uri>? configured = null, Mqtt.MqttOptions? mqtt = null)
    {
        if (Collector is not null) throw new InvalidOperationException("one collector per test: stop it before starting another (RestartCollectorAsync)");
        return Collector = await TestCollector.StartAsync(Store, polling ?? DefaultPolling, Output, configured, mqtt);
    }

    /// <summary>The node actors of a collector started for the test (<see cref="StartCollectorAsync"/>).</summary>
    protected async Task<IActorRef> StartNodesAsync(PollingOptions? polling = null) => (await StartCollectorAsync(polling)).Nodes;

    /// <summary>The collector stopped as SIGTERM stops it (the writer flushes), and started again over the same files.</summary>
    protected async Task<TestCollector> RestartCollectorAsync(PollingOptions? polling = null, IReadOnlyList<Uri>? configured = null)
    {
        await StopCollectorAsync();
        return await StartCollectorAsync(polling, configured);
    }

    protected async Task StopCollectorAsync()
    {
        if (Collector is not { } collector) return;
        Collector = null;
        await collector.DisposeAsync();
    }

    /// <summary>
    /// The node's status from its actor, or, for a key no actor has (a node's id while it is still under its address),
    /// from the fleet's status read model.
    /// </summary>
    protected NodeStatus StatusOf(IActorRef nodes, string key) =>
        nodes.Ask<object>(new GetNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult() as NodeStatus
        ?? nodes.Ask<NodeStatus>(new FindNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();

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
        await StopCollectorAsync();
        await Fleet.DisposeAsync();
        Shutdown();
        Store.Dispose();
        Temp.Dispose();
    }
}
