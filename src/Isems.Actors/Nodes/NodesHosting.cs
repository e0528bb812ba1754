using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// The node subsystem in Akka.Hosting: the read models (<see cref="FleetLatestActor"/>, <see cref="FleetStatusActor"/>),
/// the <see cref="NodeStateLoaderActor"/> the node actors ask for their saved state, and the
/// <see cref="NodeManagerActor"/> that routes to the node actors, each registered under its own type. Nothing here
/// waits for the database: each node actor loads its own bookmark, latest row and alerts when it starts.
/// Needs <see cref="WriterHosting.WithMeasurementWriter"/> before it.
/// </summary>
public static class NodesHosting
{
    public static AkkaConfigurationBuilder WithNodeActors(
        this AkkaConfigurationBuilder builder, MeasurementStore store, NodeLogFetcher fetcher, PollingOptions polling, CollectorMetrics metrics) =>
        builder.WithActors((system, registry, _) =>
        {
            var writer = registry.Get<MeasurementWriterActor>();
            var latest = system.ActorOf(FleetLatestActor.Props(), "fleet-latest");
            registry.Register<FleetLatestActor>(latest);
            var status = system.ActorOf(FleetStatusActor.Props(), "fleet-status");
            registry.Register<FleetStatusActor>(status);
            var loader = system.ActorOf(NodeStateLoaderActor.Props(store), "node-state");
            registry.Register<NodeStateLoaderActor>(loader);
            var nodes = system.ActorOf(NodeManagerActor.Props(writer, fetcher, polling, metrics, latest: latest, status: status, loader: loader), "nodes");
            registry.Register<NodeManagerActor>(nodes);
        });
}
