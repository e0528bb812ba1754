using System.Net.Http.Json;
using Akka.Actor;
using Akka.Event;

namespace Isems.Actors.Alerts;

/// <summary>
/// POSTs each saved alert transition (<see cref="AlertRecorded"/>) to ALERT_WEBHOOK_URL, one request per change, as a
/// JSON array in Alertmanager's form (the same body Alertmanager gets), in order, apart from ingestion. Each is retried
/// with backoff a bounded number of times; one the receiver never took is counted and left, so one dead receiver
/// does not hold every later change back. At most <see cref="MaxQueued"/> changes wait; beyond that the oldest is
/// counted and dropped.
/// </summary>
public sealed class WebhookActor : ReceiveActor, IWithTimers
{
    public const int MaxQueued = 10_000;
    private const int Attempts = 5;
    private static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(1), RetryMax = TimeSpan.FromSeconds(30);

    private sealed record Retry;
    private sealed record Posted;
    private sealed record NotPosted(string Reason);

    private readonly Uri _url;
    private readonly HttpClient _http;
    private readonly CollectorMetrics _metrics;
    private readonly Queue<Alert> _queue = new();
    private bool _posting;
    private int _attempt;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Uri url, HttpClient http, CollectorMetrics metrics) =>
        Akka.Actor.Props.Create(() => new WebhookActor(url, http, metrics));

    public WebhookActor(Uri url, HttpClient http, CollectorMetrics metrics)
    {
        _url = url;
        _http = http;
        _metrics = metrics;
        Receive<AlertRecorded>(recorded =>
        {
            if (_queue.Count >= MaxQueued)
            {
                _queue.Dequeue();
                _metrics.AlertsNotDelivered("webhook", 1);
            }
            _queue.Enqueue(recorded.Alert);
            Next();
        });
        Receive<Retry>(_ => Send());
        Receive<Posted>(_ =>
        {
            _queue.Dequeue();
            _posting = false;
            Next();
        });
        Receive<NotPosted>(failed =>
        {
            if (++_attempt < Attempts)
            {
                Timers.StartSingleTimer("retry", new Retry(), Backoff.Exponential(RetryMin, RetryMax, _attempt - 1));
                return;
            }
            var lost = _queue.Dequeue();
            _log.Warning("The webhook at {0} did not take {1} of node {2} after {3} attempts ({4})", _url, lost.AlertName, lost.NodeId, Attempts, failed.Reason);
            _metrics.AlertsNotDelivered("webhook", 1);
            _posting = false;
            Next();
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AlertRecorded));

    private void Next()
    {
        if (_posting || _queue.Count == 0) return;
        _posting = true;
        _attempt = 0;
        Send();
    }

    private void Send()
    {
        var body = new[] { AlertmanagerActor.ToAlertmanager(_queue.Peek()) };
        _http.PostAsJsonAsync(_url, body).ContinueWith(t =>
            t.IsCompletedSuccessfully && t.Result.IsSuccessStatusCode
                ? (object)new Posted()
                : new NotPosted(t.IsCompletedSuccessfully ? $"HTTP {(int)t.Result.StatusCode}" : t.Exception?.GetBaseException().Message ?? "cancelled"))
            .PipeTo(Self);
    }
}
