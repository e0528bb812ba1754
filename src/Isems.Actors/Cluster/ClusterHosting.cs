using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Isems.Actors.Alerts;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.Actors.Retention;
using Isems.Actors.Writing;
using Isems.Storage;

namespace Isems.Actors.Cluster;

/// <summary>
/// Cluster mode in Akka.Hosting (SPEC §9): remoting and membership (<see cref="WithIsemsCluster"/>), the node actors as
/// sharded entities behind the same <see cref="NodeManagerActor"/> marker (<see cref="WithNodeSharding"/>), the node
/// registry and retention as cluster singletons behind their own markers, and the fleet's read models fed on every
/// member. Everything else (writer, alerts, MQTT bridge, API) is the same in both modes and finds these by marker.
/// </summary>
public static class ClusterHosting
{
    /// <summary>The shard region's type name; 100 shards spread 3 to 10 members evenly and rebalance in small steps.</summary>
    public const string NodeRegionName = "node";
    public const int NodeShards = 100;

    /// <summary>
    /// Remoting on <see cref="ClusterSettings.Hostname"/>:<see cref="ClusterSettings.Port"/>, membership through the
    /// seeds, and the split brain resolver keeping the majority. Timings chosen on a loaded 2-core machine: heartbeats
    /// there lag 2–3 s at start-up, so a pause of 6 s is accepted before a member is unreachable (no false downing),
    /// and 5 s of stable membership before the resolver downs it, so a killed member's nodes run elsewhere within
    /// about 15–18 s (with Akka's default 20 s it was 45 s).
    /// </summary>
    public static AkkaConfigurationBuilder WithIsemsCluster(this AkkaConfigurationBuilder builder, ClusterSettings settings)
    {
        builder.AddHocon(
            """
            akka.cluster {
              split-brain-resolver.stable-after = 5s
              failure-detector.acceptable-heartbeat-pause = 6s
              # Sharding's remembered nodes live in the SQL journal (RememberEntitiesStore.Eventsourced): the durable
              # LMDB store of distributed data is not used, and with it the entities were never started here.
              sharding.distributed-data.durable.keys = []
              # A member that left for good is removed quickly, so its shards move at once.
              down-removal-margin = 2s
              # Shards spread over the members in a few rounds of up to 20 rather than Akka's default 3 every 10 s
              # (which took minutes to balance 100 shards over three members, each node polled meanwhile by the first).
              sharding.least-shard-allocation-strategy {
                rebalance-absolute-limit = 20
                rebalance-relative-limit = 0.2
              }
              sharding.rebalance-interval = 5s
            }
            # The admin list of a large fleet crosses from the registry singleton in one message (100,000 nodes: ~25 MB).
            akka.remote.dot-netty.tcp.maximum-frame-size = 32MiB
            """, HoconAddMode.Prepend);
        return builder
            .WithRemoting(new RemoteOptions { HostName = settings.Hostname, Port = settings.Port })
            .WithClustering(new ClusterOptions
            {
                SeedNodes = settings.SeedAddresses.ToArray(),
                Roles = ["collector"],
                SplitBrainResolver = new KeepMajorityOption(),
            })
            .WithCustomSerializer("isems-wire", WireSerializer.Types, system => new WireSerializer(system));
    }

    /// <summary>
    /// The node actors as entities of the shard region "node" (keyed by <see cref="INodeMessage.NodeKey"/>, 100
    /// shards), remembered in the SQL journal so a polled node goes on polling after a rebalance or a member's death
    /// without being told. The fleet's read models are local on every member and fed by every member's node actors
    /// (<see cref="FleetReplicaActor"/>). <see cref="NodeManagerActor"/> resolves to a <see cref="NodeRouterActor"/> in
    /// front of the region, so the registry, the MQTT bridge and the API send to it as in one process.
    /// Needs <see cref="WriterHosting.WithMeasurementWriter"/> before it.
    /// </summary>
    public static AkkaConfigurationBuilder WithNodeSharding(
        this AkkaConfigurationBuilder builder, MeasurementStore store, NodeLogFetcher fetcher, PollingOptions polling, CollectorMetrics metrics)
    {
        var sharded = polling with { Sharded = true };
        PollGate? gate = null;
        NodeEvents? events = null;
        builder.WithActors((system, registry, _) =>
        {
            var latest = system.ActorOf(FleetLatestActor.Props(), "fleet-latest");
            registry.Register<FleetLatestActor>(latest);
            var status = system.ActorOf(FleetStatusActor.Props(), "fleet-status");
            registry.Register<FleetStatusActor>(status);
            registry.Register<NodeStateLoaderActor>(system.ActorOf(NodeStateLoaderActor.Props(store), "node-state"));
            var replica = system.ActorOf(FleetReplicaActor.Props(latest, status), FleetReplicaActor.Name);
            registry.Register<FleetReplicaActor>(replica);
        });
        return builder
            .WithShardRegion<NodeRegion>(NodeRegionName, (system, registry, _) =>
            {
                // One gate and one event hub per member, shared by its entities as in one process.
                gate ??= new PollGate(sharded.MaxConcurrentPolls);
                events ??= NodeEvents.Replicated(system, registry.Get<FleetReplicaActor>(), registry.Get<FleetStatusActor>());
                var writer = registry.Get<MeasurementWriterActor>();
                var loader = registry.Get<NodeStateLoaderActor>();
                return key => NodeActor.Props(key, writer, fetcher, gate, sharded, events, metrics, null, loader);
            }, new NodeMessageExtractor(NodeShards), new ShardOptions
            {
                RememberEntities = true,
                RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
                Role = "collector",
                // Remembered entities never passivate by idleness; a node that must stop for good passivates itself.
                ShouldPassivateIdleEntities = false,
            })
            .WithActors((system, registry, _) =>
            {
                var router = system.ActorOf(NodeRouterActor.Props(registry.Get<NodeRegion>(), registry.Get<FleetLatestActor>(),
                    registry.Get<FleetStatusActor>(), registry.Get<NodeStateLoaderActor>()), "nodes");
                registry.Register<NodeManagerActor>(router);
            });
    }

    /// <summary>
    /// The node registry as a cluster singleton (on the oldest member), its proxy on every member registered as
    /// <see cref="NodeRegistryActor"/>: an admin change on any member reaches the one registry, which tells the nodes
    /// through the shard region. The start-up the one-process host waits for is told done at once: a member serves
    /// (and says in /readyz whether it is Up) while the cluster forms.
    /// </summary>
    public static AkkaConfigurationBuilder WithNodeRegistrySingleton(
        this AkkaConfigurationBuilder builder, IReadOnlyList<Uri> configured, CollectorStartup startup)
    {
        startup.RegistryMerged();
        startup.NodesStarted();
        return builder.WithSingleton<NodeRegistryActor>("node-registry", (_, registry, _) =>
                Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
                    NodeRegistryActor.Props(registry.Get<NodeManagerActor>(), NodeRegistryActor.RegistryPersistenceId, configured,
                        persistMerge: true, loader: registry.Get<NodeStateLoaderActor>()),
                    "registry", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)),
            new ClusterSingletonOptions { Role = "collector" }, createProxyToo: true);
    }

    /// <summary>Retention as a cluster singleton: one member deletes for the shared database.</summary>
    public static AkkaConfigurationBuilder WithRetentionSingleton(
        this AkkaConfigurationBuilder builder, MeasurementStore store, RetentionOptions options, CollectorMetrics metrics) =>
        !options.Enabled ? builder : builder.WithSingleton<RetentionActor>("retention",
            RetentionActor.Props(store, options, metrics), new ClusterSingletonOptions { Role = "collector" }, createProxyToo: true);

    /// <summary>Marker of the shard region itself (the <see cref="NodeManagerActor"/> marker is the router in front).</summary>
    public sealed class NodeRegion;
}

/// <summary>
/// Routes every <see cref="INodeMessage"/> by its key to one of <c>shards</c> shards (a stable hash, the same on every
/// member and every run, unlike string.GetHashCode), and to the entity named by the key. The message goes on whole.
/// </summary>
public sealed class NodeMessageExtractor(int shards) : IMessageExtractor
{
    public string? EntityId(object message) => message switch
    {
        INodeMessage node => node.NodeKey,
        _ => null,
    };

    public object? EntityMessage(object message) => message;

    public string ShardId(object message) => EntityId(message) is { } id ? ShardId(id, message) : "0";

    public string ShardId(string entityId, object? messageHint = null) =>
        (PollSchedule.StableHash(entityId) % (ulong)shards).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
