using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Persistence.Sql.Hosting;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.Actors.Retention;
using Isems.Actors.Writing;
using Isems.Api;
using Isems.Api.Controllers;
using Isems.Api.Health;
using Isems.Actors;
using System.Diagnostics.Metrics;
using Isems.Server.Configuration;
using Isems.Storage;
using LinqToDB;
using Microsoft.Extensions.Options;

namespace Isems.Server.Hosting;

/// <summary>
/// Wires the collector: typed settings from configuration, the store, and the actors through Akka.Hosting. Both the
/// web host and the one-shot <c>update-data</c> command are built from this, so they run the same actors.
/// </summary>
public static class CollectorServices
{
    public const string ActorSystemName = "isems";

    public static IServiceCollection AddIsemsCollector(this IServiceCollection services, IConfiguration configuration, bool scheduled = true)
    {
        services.AddOptions<CollectorOptions>()
            .Bind(configuration)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton(sp => new CollectorMetrics(sp.GetRequiredService<IMeterFactory>()));
        services.AddIsemsReadiness();
        services.AddSingleton(sp => ConfiguredNodes(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));
        services.AddSingleton(sp => PollingOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value, scheduled));
        services.AddSingleton(sp => ApiOptions(sp));
        services.AddSingleton(sp => OpenStore(sp));
        services.AddSingleton(sp => NodeLogFetcher.Create(sp.GetRequiredService<PollingOptions>()));
        services.AddSingleton(typeof(ActorAsk<>));
        services.AddSingleton<Isems.Api.Json.LatestJsonCache>();
        services.AddSingleton<Isems.Api.Json.HistoryJsonCache>();
        services.AddSingleton(sp => MqttOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));

        // Registered before Akka, so the broker is listening when the bridge first connects.
        if (configuration.Get<CollectorOptions>()?.MqttEmbeddedBrokerPort is { } brokerPort)
            services.AddHostedService(sp => new EmbeddedBroker(brokerPort, sp.GetRequiredService<ILogger<EmbeddedBroker>>()));

        services.AddAkka(ActorSystemName, (akka, sp) =>
        {
            var options = sp.GetRequiredService<IOptions<CollectorOptions>>().Value;
            var journal = sp.GetRequiredService<MeasurementStore>().Target.RegistryJournal();
            akka.AddHocon(LoadHocon(options), HoconAddMode.Prepend)
                .WithSqlPersistence(
                    journal.ConnectionString,
                    journal.Kind == DatabaseKind.Sqlite ? ProviderName.SQLiteMS : ProviderName.PostgreSQL,
                    autoInitialize: true)
                .WithCustomSerializer("node-registry", [typeof(IRegistryEvent), typeof(RegistrySnapshot)],
                    system => new RegistrySerializer(system))
                .WithActorSystemLivenessCheck()
                .AddSetup(new LogBridgeSetup(sp.GetRequiredService<ILoggerFactory>()))
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLogger<AkkaLogBridge>();
                })
                .WithActors((system, registry, _) =>
                {
                    var store = sp.GetRequiredService<MeasurementStore>();
                    // Listening before the first measurement is recorded, so /metrics misses none (the web host's
                    // metrics pipeline; update-data has none).
                    sp.GetService<OpenTelemetry.Metrics.MeterProvider>();
                    var metrics = sp.GetRequiredService<CollectorMetrics>();
                    registry.Register<RowVersionsActor>(system.ActorOf(RowVersionsActor.Props(), "row-versions"));
                    var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions(), metrics), "writer");
                    registry.Register<MeasurementWriterActor>(writer);
                    FlushOnStop(system, writer);

                    // Each log is read on from where it was before the stop, not fetched whole again over the mesh.
                    var bookmarks = store.BookmarksAsync().GetAwaiter().GetResult();
                    var nodes = system.ActorOf(
                        NodeManagerActor.Props(writer, sp.GetRequiredService<NodeLogFetcher>(), sp.GetRequiredService<PollingOptions>(), metrics, bookmarks),
                        "nodes");
                    registry.Register<NodeManagerActor>(nodes);

                    // The latest state comes back from the database before anything else reaches the node actors,
                    // so the API answers after a restart exactly as before it.
                    foreach (var latest in store.LatestPerNodeAsync().GetAwaiter().GetResult())
                        nodes.Tell(new RestoreLatest(latest.Measurement.NodeId, latest));
                    StartRegistry(system, registry, nodes, sp.GetRequiredService<ConfiguredNodes>(), persist: scheduled);
                    AwaitNodesStarted(system, nodes);
                    ReleaseStartUpGarbage();

                    var retention = new RetentionOptions
                    {
                        MaxAge = options.RetentionDays is { } days ? TimeSpan.FromDays(days) : null,
                        RowsPerNode = options.RetentionRowsPerNode,
                        RollupMaxAge = options.RetentionRollupDays is { } rollupDays ? TimeSpan.FromDays(rollupDays) : null,
                    };
                    if (scheduled && retention.Enabled)
                        system.ActorOf(RetentionActor.Props(store, retention, metrics), "retention");

                    if (scheduled && sp.GetRequiredService<MqttSettings>().Options is { } mqtt)
                        registry.Register<MqttBridgeActor>(system.ActorOf(MqttBridgeActor.Props(mqtt, nodes), "mqtt"));
                });
        });
        return services;
    }

    /// <summary>
    /// The registry recovers the nodes operators configured, merges ISEMS_ROUTER_IPS in, and tells the node actors to
    /// poll. The host waits for that, so the API never answers before the nodes it lists are there.
    /// </summary>
    private static void StartRegistry(ActorSystem system, IActorRegistry registry, IActorRef nodes, ConfiguredNodes configured, bool persist)
    {
        // A journal that cannot be read or written stops a persistent actor; the supervisor starts it again, with
        // backoff, and it recovers from the journal, so a database outage costs refused changes, never lost ones.
        var nodeRegistry = system.ActorOf(
            BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
                NodeRegistryActor.Props(nodes), "registry", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)),
            "node-registry");
        registry.Register<NodeRegistryActor>(nodeRegistry);
        try
        {
            nodeRegistry.Ask<RegistryEntries>(new MergeConfiguredNodes(configured.Urls, persist), RegistryStartTimeout)
                .GetAwaiter().GetResult();
        }
        catch (AskTimeoutException)
        {
            // The journal cannot be read (its database is away, or its file is damaged). The nodes of ISEMS_ROUTER_IPS
            // are polled all the same, as before there was a registry; operators' nodes come back when the journal
            // does, and meanwhile the admin API answers 503 and /readyz says why.
            system.Log.Error("The node registry did not recover within {0} s; polling the {1} nodes of ISEMS_ROUTER_IPS without it",
                RegistryStartTimeout.TotalSeconds, configured.Urls.Count);
            foreach (var url in configured.Urls) nodes.Tell(new StartPolling(url.ToString(), url));
        }
    }

    private static readonly TimeSpan RegistryStartTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Every node actor has taken its start (a question queued behind it in each mailbox has been answered), so that
    /// ready means every node is scheduled, and the start-up garbage collected next is all there will be: with 100,000
    /// nodes their actors were still starting for seconds after the registry's answer. (A fleet query answers with
    /// what came within its 3 s: at worst this waits less.)
    /// </summary>
    private static void AwaitNodesStarted(ActorSystem system, IActorRef nodes)
    {
        try
        {
            nodes.Ask<NodesStarted>(new AwaitNodesStarted(), NodesStartTimeout).GetAwaiter().GetResult();
        }
        catch (AskTimeoutException)
        {
            system.Log.Warning("The node actors had not all started after {0} s; the collector answers meanwhile", NodesStartTimeout.TotalSeconds);
        }
    }

    private static readonly TimeSpan NodesStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Start-up with a large fleet leaves hundreds of megabytes of garbage (the configuration merged into the registry
    /// and its journal entry, the node actors' start) that an idle collector would otherwise hold for months: with
    /// 100,000 nodes one compacting collection here took the resident memory from 1,076 to 867 MiB.
    /// </summary>
    private static void ReleaseStartUpGarbage()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>
    /// A graceful stop (SIGTERM, Ctrl+C) commits what the writer holds before the actor system ends. What it cannot
    /// commit in time is not lost: polled lines are fetched again, pushed ones were not acknowledged.
    /// </summary>
    private static void FlushOnStop(ActorSystem system, IActorRef writer) =>
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-writer", async () =>
        {
            try
            {
                await writer.Ask<WriterFlushed>(FlushWriter.Instance, TimeSpan.FromSeconds(8));
                system.Log.Info("Writer flushed: every line received is committed");
            }
            catch (AskTimeoutException)
            {
                system.Log.Warning("Writer not flushed within 8 s (the database is slow or away); those lines come again after the restart");
            }
            return Akka.Done.Instance;
        });

    private static Config LoadHocon(CollectorOptions options)
    {
        var path = options.AkkaConf ?? Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf");
        if (!File.Exists(path))
            throw new FileNotFoundException($"The Akka settings file '{path}' does not exist (AKKA_CONF).", path);
        return ConfigurationFactory.ParseString(File.ReadAllText(path));
    }

    private static MeasurementStore OpenStore(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<CollectorOptions>>().Value;
        var target = DatabaseTarget.Parse(options.DatabaseUrl, Directory.GetCurrentDirectory());
        var store = new MeasurementStore(target);
        store.Migrate();
        sp.GetRequiredService<ILoggerFactory>().CreateLogger("Isems.Storage").LogInformation("Storing measurements in {Database}", target.Describe());
        return store;
    }

    private static ApiOptions ApiOptions(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<CollectorOptions>>().Value;
        var days = options.ParsedHideInactiveAfterDays;
        if (days is null)
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Isems.Configuration").LogWarning(
                "HIDE_INACTIVE_AFTER_DAYS='{Value}' is not an integer; using {Default} days", options.HideInactiveAfterDays,
                CollectorOptions.DefaultHideInactiveAfterDays);
        return new ApiOptions
        {
            HideInactiveAfter = TimeSpan.FromDays(days ?? CollectorOptions.DefaultHideInactiveAfterDays),
            AdminToken = string.IsNullOrWhiteSpace(options.AdminToken) ? null : options.AdminToken.Trim(),
        };
    }

    private static PollingOptions PollingOptions(CollectorOptions options, bool scheduled) => new()
    {
        Interval = TimeSpan.FromSeconds(options.PollIntervalSeconds),
        Timeout = TimeSpan.FromSeconds(options.PollTimeoutSeconds),
        Retries = options.PollRetries,
        Scheduled = scheduled,
    };

    private static MqttSettings MqttOptions(CollectorOptions options)
    {
        var server = options.MqttServer ?? (options.MqttEmbeddedBrokerPort is null ? null : "127.0.0.1");
        if (string.IsNullOrWhiteSpace(server)) return new MqttSettings(null);
        return new MqttSettings(new MqttOptions
        {
            Server = server,
            Port = options.MqttServer is null ? options.MqttEmbeddedBrokerPort!.Value : options.MqttPort,
            Username = options.MqttUsername,
            Password = options.MqttPassword,
            Tls = options.MqttTls,
            TlsCaFile = options.MqttTlsCaFile,
            Topics = options.MqttTopics.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            ClientId = options.MqttClientId ?? new MqttOptions { Server = server }.ClientId,
            Silence = TimeSpan.FromMinutes(options.MqttSilenceMinutes),
        });
    }

    private static ConfiguredNodes ConfiguredNodes(CollectorOptions options) => new(NodeAddresses.Parse(options.RouterIps));
}

/// <summary>The MQTT link's settings, or none when no broker is configured.</summary>
public sealed record MqttSettings(MqttOptions? Options);

/// <summary>The nodes ISEMS_ROUTER_IPS names, merged into the node registry at start.</summary>
public sealed record ConfiguredNodes(IReadOnlyList<Uri> Urls);
