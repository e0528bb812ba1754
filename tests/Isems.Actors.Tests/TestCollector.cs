using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Akka.TestKit;
using Akka.TestKit.Xunit2.Internals;
using Isems.Actors.Alerts;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.Actors.Writing;
using Isems.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// The collector's actors as the product composes them: a real Generic Host with <c>AddAkka</c> and the subsystems'
/// own Akka.Hosting extensions (<see cref="WriterHosting.WithMeasurementWriter"/>, <see cref="NodesHosting.WithNodeActors"/>,
/// <see cref="AlertsHosting.WithAlerts"/>, with a broker <see cref="MqttHosting.WithMqttBridge"/>, and with configured
/// nodes <see cref="RegistryHosting.WithNodeRegistry"/>
/// over a SQLite journal beside the measurements, as the collector keeps it), so that a test exercises the wiring it
/// ships with. Time is virtual (<see cref="TestScheduler"/>). Disposing it stops the host as SIGTERM would: the writer
/// flushes and the actor system ends; another one started over the same store is the collector after a restart.
/// </summary>
public sealed class TestCollector : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20), StopTimeout = TimeSpan.FromSeconds(15);

    private readonly IHost _host;

    private TestCollector(IHost host, CollectorStartup startup)
    {
        _host = host;
        Startup = startup;
        System = host.Services.GetRequiredService<ActorSystem>();
        Registry = host.Services.GetRequiredService<ActorRegistry>();
    }

    public ActorSystem System { get; }

    /// <summary>Where the actors are found by their marker types, as the API finds them.</summary>
    public ActorRegistry Registry { get; }

    public CollectorStartup Startup { get; }

    public IActorRef Nodes => Registry.Get<NodeManagerActor>();

    public IActorRef NodeRegistry => Registry.Get<NodeRegistryActor>();

    public IActorRef Bridge => Registry.Get<MqttBridgeActor>();

    public TestScheduler Scheduler => (TestScheduler)System.Scheduler;

    /// <param name="configured">The nodes of ISEMS_ROUTER_IPS: with them (even none) the node registry runs, its
    /// journal in <c>&lt;database&gt;.registry.db</c>, and the collector is returned once it has merged them.</param>
    /// <param name="mqtt">With it, the MQTT bridge runs (<see cref="MqttHosting.WithMqttBridge"/>).</param>
    public static async Task<TestCollector> StartAsync(
        MeasurementStore store, PollingOptions polling, ITestOutputHelper? output, IReadOnlyList<Uri>? configured = null,
        MqttOptions? mqtt = null, string name = "collector")
    {
        var startup = new CollectorStartup();
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka(name, (akka, _) =>
            {
                akka.AddHocon(CollectorTestKit.VirtualTime, HoconAddMode.Prepend);
                var metrics = CollectorMetrics.None;
                akka.WithMeasurementWriter(store, metrics)
                    .WithNodeActors(store, NodeLogFetcher.Create(polling), polling, metrics)
                    .WithAlerts(store, metrics);
                if (mqtt is not null) akka.WithMqttBridge(mqtt);
                if (configured is null) return;
                akka.WithRegistryJournal(store.Target).WithNodeRegistry(configured, startup: startup);
            }))
            .Build();
        using (var timeout = new CancellationTokenSource(StartTimeout))
            await host.StartAsync(timeout.Token);
        var collector = new TestCollector(host, startup);
        if (output is not null) collector.LogTo(output);
        if (configured is not null) await startup.Merged.WaitAsync(StartTimeout);
        return collector;
    }

    /// <summary>The collector's log in the test's output, as the TestKit does for its own system.</summary>
    private void LogTo(ITestOutputHelper output)
    {
        var logger = ((ExtendedActorSystem)System).SystemActorOf(Props.Create(() => new TestOutputLogger(output)), "log-test");
        logger.Tell(new InitializeLogger(System.EventStream), ActorRefs.NoSender);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
