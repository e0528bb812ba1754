using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// The node subsystem in Akka.Hosting: the read models (<see cref="FleetLatestActor"/>, <see cref="FleetStatusActor"/>)
/// and the <see cref="NodeManagerActor"/> that routes to the node actors, each registered under its own type.
/// Needs <see cref="WriterHosting.WithMeasurementWriter"/> before it.
/// </summary>
public static class NodesHosting
{
    public static AkkaConfigurationBuilder WithNodeActors(
        this AkkaConfigurationBuilder builder, MeasurementStore store, NodeLogFetcher fetcher, PollingOptions polling, CollectorMetrics metrics) =>
        builder.WithActors((system, registry, _) =>
        {
            var writer = registry.Get<MeasurementWriterActor>();
            // Each log is read on from where it was before the stop, not fetched whole again over the mesh.
            var bookmarks = store.BookmarksAsync().GetAwaiter().GetResult();
            var latest = system.ActorOf(FleetLatestActor.Props(), "fleet-latest");
            registry.Register<FleetLatestActor>(latest);
            var status = system.ActorOf(FleetStatusActor.Props(), "fleet-status");
            registry.Register<FleetStatusActor>(status);
            var nodes = system.ActorOf(NodeManagerActor.Props(writer, fetcher, polling, metrics, bookmarks, latest, status), "nodes");
            registry.Register<NodeManagerActor>(nodes);

            // The latest state comes back from the database before anything else reaches the node actors, so the API
            // answers after a restart exactly as before it.
            foreach (var row in store.LatestPerNodeAsync().GetAwaiter().GetResult())
                nodes.Tell(new RestoreLatest(row.Measurement.NodeId, row));
        });
}
