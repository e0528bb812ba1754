using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Isems.Actors.Mqtt;

namespace Isems.Actors.Alerts;

/// <summary>
/// Publishes each saved alert transition (<see cref="AlertRecorded"/>) retained at QoS 1 on
/// <c>isems/alerts/&lt;nodeId&gt;/&lt;alertname&gt;</c> through the broker link (<see cref="MqttBridgeActor"/>): the alert
/// object as <c>GET /alerts</c> shows it while it fires, an empty retained message (which clears the topic) once it
/// resolved. A retained topic holds a state, not a history, so only the newest change of a topic waits: a newer one
/// replaces one not yet sent. At most <see cref="Window"/> publications are under way at once, one per topic, so the
/// broker keeps each topic's order. A refused or unanswered one is retried with backoff (the whole publisher pauses,
/// as the link is usually what failed), <see cref="Attempts"/> times; then it is counted
/// (<c>isems_alert_deliveries_failed_total{target="mqtt"}</c>) and kept until the link is up again (<see cref="MqttLinkUp"/>),
/// when it is published once more, so a broker away for a while ends up with every topic right. Apart from ingestion:
/// the node actors never wait for it.
/// </summary>
public sealed class MqttAlertsActor : ReceiveActor, IWithTimers
{
    public const string TopicPrefix = "isems/alerts/";
    public const int Window = 64;
    public const int Attempts = 5;
    private static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(1), RetryMax = TimeSpan.FromSeconds(30);

    private sealed record Resume;

    private readonly IActorRef _bridge;
    private readonly CollectorMetrics _metrics;
    private readonly Dictionary<string, (Alert Alert, int Attempt)> _wanted = new(StringComparer.Ordinal); // not yet on the broker
    private readonly Dictionary<string, Alert> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Alert> _undelivered = new(StringComparer.Ordinal); // given up on until the link is up
    private readonly Queue<string> _ready = new();
    private bool _paused;
    private int _failures;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef bridge, CollectorMetrics metrics) => Akka.Actor.Props.Create(() => new MqttAlertsActor(bridge, metrics));

    public MqttAlertsActor(IActorRef bridge, CollectorMetrics metrics)
    {
        _bridge = bridge;
        _metrics = metrics;
        Receive<AlertRecorded>(recorded =>
        {
            var topic = Topic(recorded.Alert);
            _undelivered.Remove(topic);
            _wanted[topic] = (recorded.Alert, 0);
            _ready.Enqueue(topic);
            Pump();
        });
        Receive<RetainedPublished>(published =>
        {
            _failures = 0;
            if (!_inFlight.Remove(published.Topic, out var sent)) return;
            if (_wanted.TryGetValue(published.Topic, out var wanted) && wanted.Alert == sent) _wanted.Remove(published.Topic);
            else _ready.Enqueue(published.Topic); // a newer change came meanwhile
            Pump();
        });
        Receive<RetainedNotPublished>(failed =>
        {
            if (!_inFlight.Remove(failed.Topic, out var sent)) return;
            if (_wanted.TryGetValue(failed.Topic, out var wanted) && wanted.Alert == sent)
            {
                if (wanted.Attempt + 1 >= Attempts)
                {
                    _wanted.Remove(failed.Topic);
                    _undelivered[failed.Topic] = sent;
                    _metrics.AlertsNotDelivered("mqtt", 1);
                    _log.Warning("The MQTT broker did not take {0} after {1} attempts ({2}); published again once the link is up",
                        failed.Topic, Attempts, failed.Reason);
                }
                else
                {
                    _wanted[failed.Topic] = (sent, wanted.Attempt + 1);
                    _ready.Enqueue(failed.Topic);
                }
            }
            else _ready.Enqueue(failed.Topic);
            if (_paused) return;
            _paused = true;
            Timers.StartSingleTimer("resume", new Resume(), Backoff.Exponential(RetryMin, RetryMax, _failures++));
        });
        Receive<Resume>(_ =>
        {
            _paused = false;
            Pump();
        });
        Receive<MqttLinkUp>(_ =>
        {
            foreach (var (topic, alert) in _undelivered)
                if (!_wanted.ContainsKey(topic))
                {
                    _wanted[topic] = (alert, 0);
                    _ready.Enqueue(topic);
                }
            _undelivered.Clear();
            _failures = 0;
            Pump();
        });
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AlertRecorded));
        Context.System.EventStream.Subscribe(Self, typeof(MqttLinkUp));
    }

    private void Pump()
    {
        while (!_paused && _inFlight.Count < Window && _ready.TryDequeue(out var topic))
        {
            // A topic under way is sent again when its answer comes; one no longer wanted went already.
            if (_inFlight.ContainsKey(topic) || !_wanted.TryGetValue(topic, out var wanted)) continue;
            _inFlight[topic] = wanted.Alert;
            _bridge.Tell(new PublishRetained(topic, Payload(wanted.Alert)));
        }
    }

    /// <summary>
    /// <c>isems/alerts/&lt;nodeId&gt;/&lt;alertname&gt;</c>. A node id may hold MQTT's wildcards <c>+</c> and <c>#</c>,
    /// which a topic name may not: they (and <c>%</c>, to stay unambiguous) are percent-encoded.
    /// </summary>
    public static string Topic(Alert alert) => TopicPrefix + EscapeLevel(alert.NodeId) + "/" + alert.AlertName;

    public static string EscapeLevel(string level) =>
        level.AsSpan().IndexOfAny("%+#") < 0 ? level : level.Replace("%", "%25").Replace("+", "%2B").Replace("#", "%23");

    /// <summary>The alert object as <c>GET /alerts</c> shows it while firing; empty (clearing the topic) once resolved.</summary>
    public static byte[] Payload(Alert alert)
    {
        if (alert.State == AlertState.Resolved) return [];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("alertname", alert.AlertName);
            json.WriteString("nodeId", alert.NodeId);
            json.WriteString("severity", alert.Severity);
            json.WriteString("state", "firing");
            json.WriteString("startsAt", Utc(alert.StartsAt));
            json.WriteNull("endsAt");
            json.WriteString("summary", alert.Summary);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    // The API's form of an instant (UtcTimeConverter): UTC, milliseconds, Z.
    private static string Utc(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
