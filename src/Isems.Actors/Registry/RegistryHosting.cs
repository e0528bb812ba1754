using Akka.Actor;
using Akka.Hosting;
using Akka.Event;
using Akka.Pattern;
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
    private static readonly TimeSpan RegistryStartTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan NodesStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The registry recovers the nodes operators configured, merges <paramref name="configured"/> (ISEMS_ROUTER_IPS)
    /// in, and tells the node actors to poll; start-up goes on once that is done and every node actor has taken its
    /// start, so the API never answers before the nodes it lists are there. <paramref name="persist"/> false: the
    /// merge is held in memory only (the one-shot update-data). <paramref name="started"/>: run once all that is done
    /// (the host collects the start-up garbage there).
    /// </summary>
    public static AkkaConfigurationBuilder WithNodeRegistry(
        this AkkaConfigurationBuilder builder, IReadOnlyList<Uri> configured, bool persist = true,
        string persistenceId = NodeRegistryActor.RegistryPersistenceId, Action? started = null, MeasurementStore? store = null) =>
        builder.WithActors((system, registry, _) =>
        {
            var nodes = registry.Get<NodeManagerActor>();
            // A journal that cannot be read or written stops a persistent actor; the supervisor starts it again, with
            // backoff, and it recovers from the journal, so a database outage costs refused changes, never lost ones.
            var nodeRegistry = system.ActorOf(
                BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
                    NodeRegistryActor.Props(nodes, persistenceId), "registry", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)),
                "node-registry");
            registry.Register<NodeRegistryActor>(nodeRegistry);
            try
            {
                nodeRegistry.Ask<RegistryEntries>(new MergeConfiguredNodes(configured, persist, LoggedIds(store)), RegistryStartTimeout).GetAwaiter().GetResult();
            }
            catch (AskTimeoutException)
            {
                // The journal cannot be read (its database is away, or its file is damaged). The nodes of
                // ISEMS_ROUTER_IPS are polled all the same, as before there was a registry; operators' nodes come back
                // when the journal does, and meanwhile the admin API answers 503 and /readyz says why.
                system.Log.Error("The node registry did not recover within {0} s; polling the {1} nodes of ISEMS_ROUTER_IPS without it",
                    RegistryStartTimeout.TotalSeconds, configured.Count);
                foreach (var url in configured) nodes.Tell(new StartPolling(url.ToString(), url));
            }

            // Every node actor has taken its start (a question queued behind it in each mailbox has been answered), so
            // that ready means every node is scheduled: with 100,000 nodes their actors were still starting for seconds
            // after the registry's answer.
            try
            {
                nodes.Ask<NodesStarted>(new AwaitNodesStarted(), NodesStartTimeout).GetAwaiter().GetResult();
                // And the fleet's status has taken every node's first status (queued before this question), so the
                // start-up garbage collected next includes those messages.
                if (registry.TryGet<FleetStatusActor>(out var status))
                    status.Ask<ActorIdentity>(new Identify(null), NodesStartTimeout).GetAwaiter().GetResult();
            }
            catch (AskTimeoutException)
            {
                system.Log.Warning("The node actors had not all started after {0} s; the collector answers meanwhile", NodesStartTimeout.TotalSeconds);
            }
            started?.Invoke();
        });

    /// <summary>The node ids the stored log bookmarks name, by log URL (only those that differ from the bookmark's key).</summary>
    private static Dictionary<string, string>? LoggedIds(MeasurementStore? store)
    {
        if (store is null) return null;
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var bookmark in store.BookmarksAsync().GetAwaiter().GetResult())
            if (bookmark.NodeId is { } id && id != bookmark.NodeKey && Uri.TryCreate(bookmark.LogUrl, UriKind.Absolute, out var url))
                ids.TryAdd(url.AbsoluteUri, id);
        return ids.Count > 0 ? ids : null;
    }
}
