using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Isems.Storage;

namespace Isems.Actors.Alerts;

/// <summary>
/// The alert subsystem in Akka.Hosting: the <see cref="AlertBookActor"/>, which reads the alerts saved before the last
/// stop when it starts, and the deliveries. Each node actor goes on from its own firing alerts, which it loads with
/// the rest of its saved state (same startsAt, not told again). Nothing here waits for the database.
/// Needs <see cref="NodesHosting.WithNodeActors"/> before it.
/// </summary>
public static class AlertsHosting
{
    /// <param name="alertmanager">Prometheus Alertmanager's base URL (ALERTMANAGER_URL); none, no delivery there.</param>
    public static AkkaConfigurationBuilder WithAlerts(
        this AkkaConfigurationBuilder builder, MeasurementStore store, CollectorMetrics metrics, Uri? alertmanager = null, Uri? webhook = null) =>
        builder.WithActors((system, registry, _) =>
        {
            var book = system.ActorOf(AlertBookActor.Props(store), "alerts");
            registry.Register<AlertBookActor>(book);
            if (alertmanager is not null)
            {
                var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                registry.Register<AlertmanagerActor>(system.ActorOf(
                    AlertmanagerActor.Props(alertmanager, http, Array.Empty<Alert>(), metrics, book), "alertmanager"));
            }
            if (webhook is not null)
            {
                var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                registry.Register<WebhookActor>(system.ActorOf(WebhookActor.Props(webhook, http, metrics), "alert-webhook"));
            }
        });

    /// <summary>
    /// Alerts published retained on <c>isems/alerts/&lt;nodeId&gt;/&lt;alertname&gt;</c> through the broker link. Needs
    /// <see cref="Mqtt.MqttHosting.WithMqttBridge"/> and <see cref="WithAlerts"/> before it.
    /// </summary>
    public static AkkaConfigurationBuilder WithMqttAlerts(this AkkaConfigurationBuilder builder, CollectorMetrics metrics) =>
        builder.WithActors((system, registry, _) => registry.Register<MqttAlertsActor>(
            system.ActorOf(MqttAlertsActor.Props(registry.Get<Mqtt.MqttBridgeActor>(), metrics), "alert-mqtt")));
}
