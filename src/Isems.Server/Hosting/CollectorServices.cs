using Isems.Actors.Alerts;
using Isems.Actors.Cluster;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Pattern;
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
        // Cluster mode (SPEC §9): /readyz also says whether this member is Up.
        if (configuration.Get<CollectorOptions>()?.Cluster is not null) services.AddIsemsClusterReadiness();
        services.AddSingleton<CollectorStartup>();
        services.AddSingleton(sp => ConfiguredNodes(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));
        services.AddSingleton(sp => PollingOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value, scheduled));
        services.AddSingleton(sp => ApiOptions(sp));
        services.AddSingleton(sp => OpenStore(sp));
        services.AddSingleton(sp => NodeLogFetcher.Create(sp.GetRequiredService<PollingOptions>()));
        services.AddSingleton(typeof(ActorAsk<>));
        services.AddSingleton<NodeQueries>();
        services.AddSingleton<Isems.Api.Json.LatestJsonCache>();
        services.AddSingleton<Isems.Api.Json.NodeStatusJsonCache>();
        services.AddSingleton<Isems.Api.Json.HistoryJsonCache>();
        services.AddSingleton(sp => MqttOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));

        // Registered before Akka, so the broker is listening when the bridge first connects.
        if (configuration.Get<CollectorOptions>()?.MqttEmbeddedBrokerPort is { } brokerPort)
            services.AddHostedService(sp => new EmbeddedBroker(brokerPort, sp.GetRequiredService<ILogger<EmbeddedBroker>>()));

        services.AddAkka(ActorSystemName, (akka, sp) =>
        {
            var options = sp.GetRequiredService<IOptions<CollectorOptions>>().Value;
            var store = sp.GetRequiredService<MeasurementStore>();
            // Listening before the first measurement is recorded, so /metrics misses none (the web host's metrics
            // pipeline; update-data has none).
            sp.GetService<OpenTelemetry.Metrics.MeterProvider>();
            var metrics = sp.GetRequiredService<CollectorMetrics>();
            akka.AddHocon(LoadHocon(options), HoconAddMode.Prepend)
                .WithRegistryJournal(store.Target)
                .WithActorSystemLivenessCheck()
                .AddSetup(new LogBridgeSetup(sp.GetRequiredService<ILoggerFactory>()))
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLogger<AkkaLogBridge>();
                })
                // One extension per subsystem, beside its actors; each finds what it needs in the ActorRegistry.
                .WithMeasurementWriter(store, metrics);
            var fetcher = sp.GetRequiredService<NodeLogFetcher>();
            var polling = sp.GetRequiredService<PollingOptions>();
            var configured = sp.GetRequiredService<ConfiguredNodes>().Urls;
            var startup = sp.GetRequiredService<CollectorStartup>();
            // The one place the two modes differ: where the node actors, the registry and retention live. Everything
            // else finds them by the same marker types.
            var cluster = scheduled ? options.Cluster : null;
            var alertmanager = string.IsNullOrWhiteSpace(options.AlertmanagerUrl) ? null : new Uri(options.AlertmanagerUrl);
            var webhook = string.IsNullOrWhiteSpace(options.AlertWebhookUrl) ? null : new Uri(options.AlertWebhookUrl);
            if (cluster is not null)
            {
                akka.WithIsemsCluster(cluster)
                    .WithNodeSharding(store, fetcher, polling, metrics)
                    .WithAlerts(store, metrics, alertmanager, webhook)
                    .WithNodeRegistrySingleton(configured, startup)
                    .WithRetentionSingleton(store, RetentionOptions(options), metrics);
            }
            else
            {
                akka.WithNodeActors(store, fetcher, polling, metrics)
                    .WithAlerts(store, metrics, alertmanager, webhook)
                    .WithNodeRegistry(configured, persist: scheduled, started: ReleaseStartUpGarbage, startup: startup);
                if (scheduled) akka.WithRetention(store, RetentionOptions(options), metrics);
            }
            if (scheduled && sp.GetRequiredService<MqttSettings>().Options is { } mqtt) akka.WithMqttBridge(mqtt).WithMqttAlerts(metrics);
        });
        // After the actor system's start: the host serves (and update-data polls) once the nodes have started.
        services.AddHostedService<StartupGate>();
        return services;
    }

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

    private static RetentionOptions RetentionOptions(CollectorOptions options) => new()
    {
        MaxAge = options.RetentionDays is { } days ? TimeSpan.FromDays(days) : null,
        RowsPerNode = options.RetentionRowsPerNode,
        RollupMaxAge = options.RetentionRollupDays is { } rollupDays ? TimeSpan.FromDays(rollupDays) : null,
    };

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
        Alerts = AlertOptions(options),
    };

    private static AlertOptions AlertOptions(CollectorOptions options)
    {
        var silent = TimeSpan.FromMinutes(options.AlertSilentMinutes);
        var down = TimeSpan.FromMinutes(options.AlertDownMinutes);
        // The second look that fires a time rule comes a minute later, or sooner for thresholds under ten minutes.
        var recheck = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, Math.Min(silent.Ticks, down.Ticks) / 10));
        return new AlertOptions { Silent = silent, Down = down, RecheckAfter = recheck };
    }

    /// <summary>
    /// Cluster mode: every member subscribes to each topic as one MQTT 5 shared subscription (<c>$share/isems/...</c>),
    /// so the broker gives each message to one member, which routes its lines to the node's entity wherever it lives,
    /// and a member's death costs no subscription (the others get its share at once). The alternative, one bridge as a
    /// singleton, would stop every push while the singleton moves.
    /// </summary>
    private static string[] SharedInCluster(string[] topics, ClusterSettings? cluster) =>
        cluster is null ? topics : topics.Select(t => t.StartsWith("$share/", StringComparison.Ordinal) ? t : $"$share/isems/{t}").ToArray();

    private static MqttSettings MqttOptions(CollectorOptions options)
    {
        var cluster = options.Cluster;
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
            Topics = SharedInCluster(options.MqttTopics.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), cluster),
            // Each member its own session: one client id for two members would have the broker drop one for the other.
            ClientId = (options.MqttClientId ?? new MqttOptions { Server = server }.ClientId) + (cluster is null ? "" : $"-{cluster.Hostname}-{cluster.Port}"),
            Silence = TimeSpan.FromMinutes(options.MqttSilenceMinutes),
            // A member that dies takes the lines sent to its nodes' actors with it; failover takes 15-20 s.
            ResendUnansweredAfter = cluster is null ? null : TimeSpan.FromSeconds(10),
        });
    }

    private static ConfiguredNodes ConfiguredNodes(CollectorOptions options) => new(NodeAddresses.Parse(options.RouterIps));
}

/// <summary>The MQTT link's settings, or none when no broker is configured.</summary>
public sealed record MqttSettings(MqttOptions? Options);

/// <summary>The nodes ISEMS_ROUTER_IPS names, merged into the node registry at start.</summary>
public sealed record ConfiguredNodes(IReadOnlyList<Uri> Urls);
