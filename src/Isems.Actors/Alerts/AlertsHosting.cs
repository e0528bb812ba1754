using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Isems.Storage;

namespace Isems.Actors.Alerts;

/// <summary>
/// The alert subsystem in Akka.Hosting: the <see cref="AlertBookActor"/> with the alerts saved before the last stop,
/// and each firing one handed back to its node's actor, which goes on from it (same startsAt, not told again).
/// Needs <see cref="NodesHosting.WithNodeActors"/> before it.
/// </summary>
public static class AlertsHosting
{
    public static AkkaConfigurationBuilder WithAlerts(this AkkaConfigurationBuilder builder, MeasurementStore store) =>
        builder.WithActors((system, registry, _) =>
        {
            var since = DateTimeOffset.UtcNow - AlertBookActor.ResolvedKept;
            var restored = AlertBookActor.FromStore(store.AlertsAsync(since.ToUnixTimeMilliseconds()).GetAwaiter().GetResult());
            var book = system.ActorOf(AlertBookActor.Props(store, restored), "alerts");
            registry.Register<AlertBookActor>(book);
            var nodes = registry.Get<NodeManagerActor>();
            foreach (var node in restored.Where(a => a.State == AlertState.Firing).GroupBy(a => a.NodeId))
                nodes.Tell(new RestoreAlerts(node.Key, node.ToList()));
        });
}
