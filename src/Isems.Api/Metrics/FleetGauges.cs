using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Hosting;
using Isems.Actors;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Api.Controllers;

namespace Isems.Api.Metrics;

/// <summary>
/// The series counted from the actors' answers rather than recorded as things happen: the fleet by state and the
/// broker link. They are observable instruments of the collector's meter, read from a snapshot that
/// <see cref="RefreshAsync"/> takes just before a scrape (an instrument's callback runs synchronously and must not
/// block on an actor). An exporter that reads on its own schedule (OTLP) gets a snapshot a few seconds old at most:
/// its reading starts the next refresh.
/// </summary>
public sealed class FleetGauges
{
    private static readonly TimeSpan Stale = TimeSpan.FromSeconds(5);
    private static readonly string[] States = Enum.GetValues<NodeState>().Select(s => s.ToString().ToLowerInvariant()).ToArray();

    private readonly ActorAsk<NodeManagerActor> _nodes;
    private readonly ActorRegistry _registry;
    private readonly ApiOptions _options;
    private readonly TimeProvider _clock;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile Snapshot _snapshot = new(null, null, DateTimeOffset.MinValue);

    public FleetGauges(IMeterFactory factory, ActorAsk<NodeManagerActor> nodes, ActorRegistry registry, ApiOptions options, TimeProvider clock)
    {
        _nodes = nodes;
        _registry = registry;
        _options = options;
        _clock = clock;
        var meter = factory.Create(CollectorMetrics.MeterName);
        meter.CreateObservableGauge("isems_nodes", () => Read<int>(s => s.Fleet is { } fleet ? ByState(fleet) : []),
            description: "Nodes by state (unknown: not polled since start, or known only from data)");
        meter.CreateObservableGauge("isems_nodes_inactive", () => Read<int>(s => s.Fleet is { } fleet ? [new Measurement<int>(Inactive(fleet))] : []),
            description: "Nodes whose newest line is older than HIDE_INACTIVE_AFTER_DAYS");
        meter.CreateObservableGauge("isems_mqtt_connected", () => Read<int>(s => s.Mqtt is { } m ? [new Measurement<int>(m.Connected ? 1 : 0)] : []),
            description: "1 while connected to the broker");
        meter.CreateObservableGauge("isems_mqtt_awaiting_commit", () => Read<int>(s => s.Mqtt is { } m ? [new Measurement<int>(m.AwaitingCommit)] : []),
            description: "Messages received, not yet acknowledged (their lines are on the way to the database)");
        meter.CreateObservableCounter("isems_mqtt_messages", () => Read<long>(s => s.Mqtt is { } m ? [new Measurement<long>(m.Messages)] : []),
            description: "Messages received from the broker");
        meter.CreateObservableCounter("isems_mqtt_reconnects", () => Read<long>(s => s.Mqtt is { } m ? [new Measurement<long>(m.Reconnects)] : []),
            description: "Connections to the broker after the first");
        meter.CreateObservableCounter("isems_mqtt_dropped", () => Read<long>(s => s.Mqtt is { } m
                ? m.Dropped.Select(d => new Measurement<long>(d.Value, new KeyValuePair<string, object?>("kind", d.Key))).ToArray()
                : []),
            description: "Messages acknowledged without storing anything, by kind");
    }

    /// <summary>Asks the node manager and the broker link for their state; what does not answer in time is left out.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            var fleet = await _nodes.AskAsync(new GetFleetStatus(), cancellationToken) as FleetStatus;
            MqttStatus? mqtt = null;
            if (_registry.TryGet<MqttBridgeActor>(out var bridge))
            {
                try
                {
                    mqtt = await bridge.Ask<MqttStatus>(new GetMqttStatus(), _options.AskTimeout, cancellationToken);
                }
                catch (AskTimeoutException)
                {
                    // the link's series are left out until it answers
                }
            }
            _snapshot = new Snapshot(fleet, mqtt, _clock.GetUtcNow());
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private IEnumerable<Measurement<T>> Read<T>(Func<Snapshot, Measurement<T>[]> read) where T : struct
    {
        var snapshot = _snapshot;
        if (_clock.GetUtcNow() - snapshot.Taken > Stale && _refreshing.CurrentCount > 0)
            _ = RefreshQuietlyAsync();
        return read(snapshot);
    }

    private async Task RefreshQuietlyAsync()
    {
        try
        {
            await RefreshAsync(CancellationToken.None);
        }
        catch (Exception)
        {
            // the actor system is stopping; the next reading tries again
        }
    }

    private static Measurement<int>[] ByState(FleetStatus fleet)
    {
        var counts = new int[States.Length];
        foreach (var node in fleet.Nodes) counts[(int)node.State]++;
        return States.Select((state, i) => new Measurement<int>(counts[i], new KeyValuePair<string, object?>("state", state))).ToArray();
    }

    private int Inactive(FleetStatus fleet)
    {
        var cutoff = (_clock.GetUtcNow() - _options.HideInactiveAfter).ToUnixTimeSeconds();
        return fleet.Nodes.Count(n => n.Latest is null || n.Latest.Measurement.Timestamp <= cutoff);
    }

    private sealed record Snapshot(FleetStatus? Fleet, MqttStatus? Mqtt, DateTimeOffset Taken);
}
