using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Api.Controllers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Metrics;

/// <summary>
/// <c>/metrics</c> for Prometheus: what the actors recorded (polls, lines, commits, the writer's buffer), and, counted
/// at scrape time from the actors' answers, the fleet by state and the broker link.
/// </summary>
[ApiController]
[Route("metrics")]
public sealed class MetricsController(
    PrometheusExporter exporter, ActorAsk<FleetStatusActor> nodes, ActorRegistry registry, ApiOptions options, TimeProvider clock)
    : ControllerBase
{
    [HttpGet]
    [Produces("text/plain")]
    [ProducesResponseType<string>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Scrape(CancellationToken cancellationToken)
    {
        var fleet = await nodes.AskAsync(new GetFleetStatus(), cancellationToken) as FleetStatus;
        MqttStatus? mqtt = null;
        if (registry.TryGet<MqttBridgeActor>(out var bridge))
        {
            try
            {
                mqtt = await bridge.Ask<MqttStatus>(new GetMqttStatus(), options.AskTimeout, cancellationToken);
            }
            catch (AskTimeoutException)
            {
                // the link's series are left out of this scrape
            }
        }

        var text = exporter.Scrape(writer =>
        {
            if (fleet is not null) WriteFleet(writer, fleet);
            if (mqtt is not null) WriteMqtt(writer, mqtt);
        });
        return Content(text, PrometheusWriter.ContentType);
    }

    private void WriteFleet(PrometheusWriter writer, FleetStatus fleet)
    {
        var byState = Enum.GetValues<NodeState>().ToDictionary(s => s.ToString().ToLowerInvariant(), _ => 0.0);
        foreach (var node in fleet.Nodes) byState[node.State.ToString().ToLowerInvariant()]++;
        writer.Gauge("isems_nodes", "Nodes by state (unknown: not polled since start, or known only from data)", "state", byState);

        var cutoff = (clock.GetUtcNow() - options.HideInactiveAfter).ToUnixTimeSeconds();
        writer.Gauge("isems_nodes_inactive", "Nodes whose newest line is older than HIDE_INACTIVE_AFTER_DAYS",
            fleet.Nodes.Count(n => n.Latest is null || n.Latest.Measurement.Timestamp <= cutoff));
    }

    private static void WriteMqtt(PrometheusWriter writer, MqttStatus mqtt)
    {
        writer.Gauge("isems_mqtt_connected", "1 while connected to the broker", mqtt.Connected ? 1 : 0);
        writer.Gauge("isems_mqtt_awaiting_commit", "Messages received, not yet acknowledged (their lines are on the way to the database)", mqtt.AwaitingCommit);
        writer.Header("isems_mqtt_messages_total", "counter", "Messages received from the broker");
        writer.Sample("isems_mqtt_messages_total", "", mqtt.Messages);
        writer.Header("isems_mqtt_reconnects_total", "counter", "Connections to the broker after the first");
        writer.Sample("isems_mqtt_reconnects_total", "", mqtt.Reconnects);
        writer.Header("isems_mqtt_dropped_total", "counter", "Messages acknowledged without storing anything, by kind");
        foreach (var (kind, count) in mqtt.Dropped) writer.Sample("isems_mqtt_dropped_total", $"kind=\"{kind}\"", count);
    }
}
