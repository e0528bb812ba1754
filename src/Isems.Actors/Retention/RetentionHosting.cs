using Akka.Hosting;
using Isems.Storage;

namespace Isems.Actors.Retention;

/// <summary>The retention subsystem in Akka.Hosting: scheduled deletes, when a rule is set.</summary>
public static class RetentionHosting
{
    public static AkkaConfigurationBuilder WithRetention(
        this AkkaConfigurationBuilder builder, MeasurementStore store, RetentionOptions options, CollectorMetrics metrics) =>
        !options.Enabled ? builder : builder.WithActors((system, registry, _) =>
            registry.Register<RetentionActor>(system.ActorOf(RetentionActor.Props(store, options, metrics), "retention")));
}
