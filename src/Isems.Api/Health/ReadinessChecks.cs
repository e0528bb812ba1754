using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Mqtt;
using Isems.Actors.Registry;
using Isems.Actors.Writing;
using Isems.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Isems.Api.Health;

/// <summary>
/// Can lines be stored? The writer says whether its commits fail (a locked SQLite file, PostgreSQL away) and how many
/// lines wait; a ping notices a database that went away while nothing was written.
/// </summary>
public sealed class DatabaseCheck(IRequiredActor<MeasurementWriterActor> writer, MeasurementStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = await writer.ActorRef.Ask<WriterStatus>(GetWriterStatus.Instance, HealthChecks.Timeout, cancellationToken);
        var data = new Dictionary<string, object> { ["bufferedLines"] = status.BufferedLines };
        if (status.Failing)
        {
            data["failingSince"] = status.FailingSince!.Value;
            data["failedAttempts"] = status.ConsecutiveFailures;
            return HealthCheckResult.Unhealthy(
                $"Writing to the database fails since {status.FailingSince:u} ({status.ConsecutiveFailures} attempts): {status.LastError}. " +
                $"{status.BufferedLines} lines wait in memory; they are written when it answers again.", data: data);
        }
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(HealthChecks.Timeout);
            await store.PingAsync(timeout.Token);
        }
        catch (Exception error)
        {
            return HealthCheckResult.Unhealthy($"The database does not answer: {error.Message}", error, data);
        }
        return HealthCheckResult.Healthy($"{status.BufferedLines} lines waiting", data);
    }
}

/// <summary>Can operators change nodes? The registry answers once its journal is recovered.</summary>
public sealed class NodeRegistryCheck(IRequiredActor<NodeRegistryActor> registry, Isems.Actors.CollectorStartup? startup = null) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Fed by the actors as start-up goes on: not ready before every node listed is there.
        if (startup is { IsReady: false })
            return HealthCheckResult.Unhealthy($"Starting: {startup.Waiting}.");
        try
        {
            var count = await registry.ActorRef.Ask<RegisteredNodeCount>(new CountRegisteredNodes(), HealthChecks.Timeout, cancellationToken);
            return HealthCheckResult.Healthy($"{count.Nodes} nodes registered");
        }
        catch (AskTimeoutException)
        {
            return HealthCheckResult.Unhealthy(
                "The node registry does not answer: its journal (Akka.Persistence.Sql) is being recovered or is unreachable.");
        }
    }
}

/// <summary>Is the broker link up? Only where MQTT is configured.</summary>
public sealed class MqttCheck(ActorRegistry registry) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!registry.TryGet<MqttBridgeActor>(out var bridge)) return HealthCheckResult.Healthy("MQTT is not configured");
        var status = await bridge.Ask<MqttStatus>(new GetMqttStatus(), HealthChecks.Timeout, cancellationToken);
        if (!status.Connected)
            return HealthCheckResult.Unhealthy($"Not connected to {status.Broker}: {status.LastError ?? "connecting"}");
        return status.Degraded
            ? HealthCheckResult.Degraded($"Connected to {status.Broker}, but no message since {status.LastMessage:u}")
            : HealthCheckResult.Healthy($"Connected to {status.Broker}");
    }
}

/// <summary>Cluster mode only (SPEC §9): this member is Up, so it owns shards and its singletons' proxies answer.</summary>
public sealed class ClusterCheck(Akka.Actor.ActorSystem system) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var view = Isems.Actors.Cluster.ClusterView.Read(system);
        var self = view.Members.FirstOrDefault(m => m.Address == view.Self);
        var up = view.Members.Count(m => m.Status == "Up");
        return Task.FromResult(self?.Status == "Up"
            ? HealthCheckResult.Healthy($"{view.Self} is Up; {up} of {view.Members.Count} members Up, {view.Unreachable.Count} unreachable")
            : HealthCheckResult.Unhealthy($"{view.Self} is {self?.Status ?? "not a member yet"}: joining through the seeds (CLUSTER_SEEDS)"));
    }
}
