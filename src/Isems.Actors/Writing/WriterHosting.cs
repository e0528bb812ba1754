using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Isems.Storage;

namespace Isems.Actors.Writing;

/// <summary>The writer subsystem in Akka.Hosting: the one writer of the process and the row versions beside it.</summary>
public static class WriterHosting
{
    /// <summary>
    /// Registers <see cref="MeasurementWriterActor"/> and <see cref="RowVersionsActor"/> in the ActorRegistry. A
    /// graceful stop (SIGTERM, Ctrl+C) commits what the writer holds before the actor system ends; what it cannot
    /// commit in time is not lost: polled lines are fetched again, pushed ones were not acknowledged.
    /// </summary>
    public static AkkaConfigurationBuilder WithMeasurementWriter(
        this AkkaConfigurationBuilder builder, MeasurementStore store, CollectorMetrics metrics, WriterOptions? options = null) =>
        builder.WithActors((system, registry, _) =>
        {
            registry.Register<RowVersionsActor>(system.ActorOf(RowVersionsActor.Props(), "row-versions"));
            var writer = system.ActorOf(MeasurementWriterActor.Props(store, options ?? new WriterOptions(), metrics), "writer");
            registry.Register<MeasurementWriterActor>(writer);
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-writer", async () =>
            {
                try
                {
                    await writer.Ask<WriterFlushed>(FlushWriter.Instance, TimeSpan.FromSeconds(8));
                    system.Log.Info("Writer flushed: every line received is committed");
                }
                catch (Akka.Actor.AskTimeoutException)
                {
                    system.Log.Warning("Writer not flushed within 8 s (the database is slow or away); those lines come again after the restart");
                }
                return Akka.Done.Instance;
            });
        });
}
