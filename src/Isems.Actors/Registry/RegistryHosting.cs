using Akka.Actor;
using Akka.Hosting;
using Akka.Event;
using Akka.Pattern;
using Akka.Persistence.Sql.Hosting;
using LinqToDB;
using Isems.Actors.Nodes;
using Isems.Storage;

namespace Isems.Actors.Registry;

/// <summary>
/// The node registry in Akka.Hosting: the configured nodes and their identity, event-sourced. Needs
/// <see cref="NodesHosting.WithNodeActors"/> before it (and a journal: Akka.Persistence.Sql in the host, in memory in
/// tests).
/// </summary>
public static class RegistryHosting
{
    private static readonly TimeSpan RegistryStartTimeout = TimeSpan.FromMinutes(5); // the last resort: a failed journal is told at once
    private static readonly TimeSpan NodesStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The journal the registry's events live in (and, in a cluster, the shards' remembered entities): Akka.Persistence.Sql
    /// on <paramref name="database"/>'s registry journal (a SQLite file beside the measurements, or the same PostgreSQL
    /// database), with the registry's own serializer. One place, so the collector and its tests keep it alike.
    /// </summary>
    public static AkkaConfigurationBuilder WithRegistryJournal(this AkkaConfigurationBuilder builder, DatabaseTarget database)
    {
        var journal = database.RegistryJournal();
        return builder
            .WithSqlPersistence(
                journal.ConnectionString,
                journal.Kind == DatabaseKind.Sqlite ? ProviderName.SQLiteMS : ProviderName.PostgreSQL,
                autoInitialize: true)
            .WithCustomSerializer("node-registry", [typeof(IRegistryEvent), typeof(RegistrySnapshot)],
                system => new RegistrySerializer(system));
    }

    /// <summary>
    /// The registry recovers the nodes operators configured, merges <paramref name="configured"/> (ISEMS_ROUTER_IPS)
    /// in itself, and tells the node actors to poll. Nothing waits here: <paramref name="startup"/> is told when the
    /// merge is done and when every node actor has loaded its state and taken its start (readiness reads it, and the
    /// host awaits it before it serves). <paramref name="persist"/> false: the merge is held in memory only (the
    /// one-shot update-data). <paramref name="started"/>: run once all that is done (the host collects the start-up
    /// garbage there).
    /// </summary>
    public static AkkaConfigurationBuilder WithNodeRegistry(
        this AkkaConfigurationBuilder builder, IReadOnlyList<Uri> configured, bool persist = true,
        string persistenceId = NodeRegistryActor.RegistryPersistenceId, Action? started = null, CollectorStartup? startup = null) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var nodes = registry.Get<NodeManagerActor>();
            registry.TryGet<NodeStateLoaderActor>(out var loader);
            startup ??= new CollectorStartup();
            // A journal that cannot be read or written stops a persistent actor; the supervisor starts it again, with
            // backoff, and it recovers from the journal, so a database outage costs refused changes, never lost ones.
            var nodeRegistry = system.ActorOf(
                BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
                    NodeRegistryActor.Props(nodes, persistenceId, configured, persist, loader, startup),
                    "registry", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)),
                "node-registry");
            registry.Register<NodeRegistryActor>(nodeRegistry);
            _ = FollowStartAsync(system, registry, nodes, configured, startup, started);
        });

    /// <summary>
    /// Start-up at the edge, awaited, never blocked on: once the registry has merged, every node actor is asked
    /// whether it has taken its start (a question queued behind its state and its start in each mailbox), then the
    /// fleet's status (which has each node's first status queued before), so that ready means every node is scheduled.
    /// </summary>
    private static async Task FollowStartAsync(
        ActorSystem system, IActorRegistry registry, IActorRef nodes, IReadOnlyList<Uri> configured, CollectorStartup startup, Action? started)
    {
        if (await Task.WhenAny(startup.Merged, startup.RegistryFailed, Task.Delay(RegistryStartTimeout)) != startup.Merged)
        {
            // The journal cannot be read (its database is away, or its file is damaged). The nodes of
            // ISEMS_ROUTER_IPS are polled all the same, as before there was a registry; operators' nodes come back
            // when the journal does, and meanwhile the admin API answers 503 and /readyz says why.
            system.Log.Error("The node registry did not recover within {0} s; polling the {1} nodes of ISEMS_ROUTER_IPS without it",
                RegistryStartTimeout.TotalSeconds, configured.Count);
            foreach (var url in configured) nodes.Tell(new StartPolling(url.ToString(), url));
        }
        try
        {
            await nodes.Ask<NodesStarted>(new AwaitNodesStarted(), NodesStartTimeout);
            if (registry.TryGet<FleetStatusActor>(out var status))
                await status.Ask<ActorIdentity>(new Identify(null), NodesStartTimeout);
            if (registry.TryGet<NodeStateLoaderActor>(out var loader))
                await loader.Ask<ForgetUnclaimedState>(ForgetUnclaimedState.Instance, NodesStartTimeout);
        }
        catch (AskTimeoutException)
        {
            system.Log.Warning("The node actors had not all started after {0} s; the collector answers meanwhile", NodesStartTimeout.TotalSeconds);
        }
        started?.Invoke();
        startup.NodesStarted();
    }
}
