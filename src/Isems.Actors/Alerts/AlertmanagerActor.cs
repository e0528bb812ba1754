using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Event;

namespace Isems.Actors.Alerts;

/// <summary>
/// Tells Prometheus Alertmanager (its v2 API, <c>POST &lt;url&gt;/api/v2/alerts</c>) about the fleet's alerts, apart from
/// ingestion: it hears each saved transition (<see cref="AlertRecorded"/>) and posts at once, and posts every firing
/// alert again each minute, as Alertmanager expects (it resolves an alert it stops hearing about). A resolution is
/// kept until Alertmanager has taken it; while Alertmanager is away, each post is retried with backoff, a bounded
/// number of times, and what could not be delivered is counted; the next minute's post sends everything again, so
/// nothing is lost when it comes back.
/// </summary>
public sealed class AlertmanagerActor : ReceiveActor, IWithTimers
{
    public static readonly TimeSpan ResendEvery = TimeSpan.FromMinutes(1);
    private const int Attempts = 4;
    private static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(1), RetryMax = TimeSpan.FromSeconds(15);

    private sealed record Resend;
    private sealed record Retry(int Attempt);
    private sealed record Posted(int Attempt, IReadOnlyList<Alert> Resolved);
    private sealed record NotPosted(int Attempt, string Reason);

    private readonly Uri _endpoint;
    private readonly HttpClient _http;
    private readonly CollectorMetrics _metrics;
    private readonly Dictionary<(string Node, string Name), Alert> _firing = new();
    private readonly Dictionary<(string Node, string Name), Alert> _resolved = new(); // until Alertmanager took them
    private bool _posting;
    private bool _again;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="book">Asked for the alerts firing before the last stop (an <see cref="AlertBookActor"/>), which
    /// are posted again at once; none: only <paramref name="firing"/>.</param>
    public static Props Props(Uri alertmanager, HttpClient http, IReadOnlyList<Alert> firing, CollectorMetrics metrics, IActorRef? book = null) =>
        Akka.Actor.Props.Create(() => new AlertmanagerActor(alertmanager, http, firing, metrics, book));

    private readonly IActorRef? _book;

    public AlertmanagerActor(Uri alertmanager, HttpClient http, IReadOnlyList<Alert> firing, CollectorMetrics metrics, IActorRef? book)
    {
        _book = book;
        Receive<AlertList>(restored =>
        {
            // Transitions heard meanwhile are newer than what the book read at start: they stay.
            var added = 0;
            foreach (var alert in restored.Alerts)
                if (alert.State == AlertState.Firing && _firing.TryAdd((alert.NodeId, alert.AlertName), alert)) added++;
            if (added > 0) Post();
        });
        _endpoint = new Uri(alertmanager.ToString().TrimEnd('/') + "/api/v2/alerts");
        _http = http;
        _metrics = metrics;
        foreach (var alert in firing) _firing[(alert.NodeId, alert.AlertName)] = alert;

        Receive<AlertRecorded>(recorded =>
        {
            var alert = recorded.Alert;
            var key = (alert.NodeId, alert.AlertName);
            if (alert.State == AlertState.Firing) _firing[key] = alert;
            else
            {
                _firing.Remove(key);
                _resolved[key] = alert;
            }
            Post();
        });
        Receive<Resend>(_ => Post());
        Receive<Retry>(retry => Send(retry.Attempt));
        Receive<Posted>(posted =>
        {
            foreach (var alert in posted.Resolved)
                if (_resolved.TryGetValue((alert.NodeId, alert.AlertName), out var kept) && kept == alert)
                    _resolved.Remove((alert.NodeId, alert.AlertName));
            Done();
        });
        Receive<NotPosted>(failed =>
        {
            if (failed.Attempt < Attempts)
            {
                Timers.StartSingleTimer("retry", new Retry(failed.Attempt + 1), Backoff.Exponential(RetryMin, RetryMax, failed.Attempt - 1));
                return;
            }
            _log.Warning("Alertmanager at {0} did not take {1} alerts after {2} attempts ({3}); they are sent again with the next round",
                _endpoint, _firing.Count + _resolved.Count, Attempts, failed.Reason);
            _metrics.AlertsNotDelivered("alertmanager", _firing.Count + _resolved.Count);
            Done();
        });
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AlertRecorded));
        Timers.StartPeriodicTimer("resend", new Resend(), ResendEvery);
        _book?.Tell(new GetAlerts(State: AlertState.Firing));
        if (_firing.Count > 0) Post();
    }

    private void Post()
    {
        if (_posting)
        {
            _again = true;
            return;
        }
        if (_firing.Count == 0 && _resolved.Count == 0) return;
        _posting = true;
        Send(1);
    }

    private void Done()
    {
        _posting = false;
        if (!_again) return;
        _again = false;
        Post();
    }

    private void Send(int attempt)
    {
        var resolved = _resolved.Values.ToList();
        var body = _firing.Values.Concat(resolved).Select(ToAlertmanager).ToList();
        _http.PostAsJsonAsync(_endpoint, body).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully && t.Result.IsSuccessStatusCode) return (object)new Posted(attempt, resolved);
            var reason = t.IsCompletedSuccessfully ? $"HTTP {(int)t.Result.StatusCode}" : t.Exception?.GetBaseException().Message ?? "cancelled";
            return new NotPosted(attempt, reason);
        }).PipeTo(Self);
    }

    /// <summary>An alert in Alertmanager's postable form; the webhook sends the same.</summary>
    internal static PostableAlert ToAlertmanager(Alert a) => new(
        new Dictionary<string, string>
        {
            ["alertname"] = a.AlertName, ["node"] = a.NodeId, ["severity"] = a.Severity, ["service"] = "isems-collector",
        },
        new Dictionary<string, string>
        {
            ["summary"] = a.Summary,
            ["description"] = $"{a.AlertName} ({a.Severity}) on node {a.NodeId}, since {a.StartsAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC",
        },
        a.StartsAt.ToUniversalTime(), a.EndsAt?.ToUniversalTime());

    internal sealed record PostableAlert(
        [property: JsonPropertyName("labels")] Dictionary<string, string> Labels,
        [property: JsonPropertyName("annotations")] Dictionary<string, string> Annotations,
        [property: JsonPropertyName("startsAt")] DateTimeOffset StartsAt,
        [property: JsonPropertyName("endsAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? EndsAt);
}
