using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Api;
using Isems.Api.Controllers;
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
        services.AddSingleton(sp => PollTargets(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));
        services.AddSingleton(sp => PollingOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value, scheduled));
        services.AddSingleton(sp => ApiOptions(sp));
        services.AddSingleton(sp => OpenStore(sp));
        services.AddSingleton(sp => NodeLogFetcher.Create(sp.GetRequiredService<PollingOptions>()));
        services.AddSingleton<NodeAsk>();
        services.AddSingleton(sp => MqttOptions(sp.GetRequiredService<IOptions<CollectorOptions>>().Value));

        // Registered before Akka, so the broker is listening when the bridge first connects.
        if (configuration.Get<CollectorOptions>()?.MqttEmbeddedBrokerPort is { } brokerPort)
            services.AddHostedService(sp => new EmbeddedBroker(brokerPort, sp.GetRequiredService<ILogger<EmbeddedBroker>>()));

        services.AddAkka(ActorSystemName, (akka, sp) =>
        {
            var options = sp.GetRequiredService<IOptions<CollectorOptions>>().Value;
            akka.AddHocon(LoadHocon(options), HoconAddMode.Prepend)
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLoggerFactory();
                })
                .WithActors((system, registry, _) =>
                {
                    var store = sp.GetRequiredService<MeasurementStore>();
                    var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
                    registry.Register<MeasurementWriterActor>(writer);

                    var nodes = system.ActorOf(
                        NodeManagerActor.Props(writer, sp.GetRequiredService<NodeLogFetcher>(), sp.GetRequiredService<PollingOptions>()),
                        "nodes");
                    registry.Register<NodeManagerActor>(nodes);

                    // The latest state comes back from the database before anything else reaches the node actors,
                    // so the API answers after a restart exactly as before it.
                    foreach (var latest in store.LatestPerNodeAsync().GetAwaiter().GetResult())
                        nodes.Tell(new RestoreLatest(latest.Measurement.NodeId, latest));
                    foreach (var target in sp.GetRequiredService<IReadOnlyList<PollTarget>>())
                        nodes.Tell(new StartPolling(target.Key, target.LogUrl));

                    if (scheduled && sp.GetRequiredService<MqttSettings>().Options is { } mqtt)
                        registry.Register<MqttBridgeActor>(system.ActorOf(MqttBridgeActor.Props(mqtt, nodes), "mqtt"));
                });
        });
        return services;
    }

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
        return new ApiOptions { HideInactiveAfter = TimeSpan.FromDays(days ?? CollectorOptions.DefaultHideInactiveAfterDays) };
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

    private static IReadOnlyList<PollTarget> PollTargets(CollectorOptions options) =>
        NodeAddresses.Parse(options.RouterIps).Select(url => new PollTarget(url.ToString(), url)).ToList();
}

/// <summary>The MQTT link's settings, or none when no broker is configured.</summary>
public sealed record MqttSettings(MqttOptions? Options);

/// <summary>A node to poll: its routing key (the URL, until the node tells its id) and its log URL.</summary>
public sealed record PollTarget(string Key, Uri LogUrl);
