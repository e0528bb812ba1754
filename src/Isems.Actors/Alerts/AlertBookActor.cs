using Akka.Actor;
using Akka.Event;
using Isems.Storage;

namespace Isems.Actors.Alerts;

/// <summary>
/// The fleet's alerts: the read model <c>GET /alerts</c> and <c>isems_alerts_firing</c> answer from, kept current by the
/// node actors (through NodeEvents), and the writer of each transition to the <c>alerts</c> table, so a restart neither
/// forgets nor re-sends one. Writes go in batches, one at a time, retried with backoff while the database is away;
/// a transition is published as <see cref="AlertRecorded"/> once it is saved.
/// </summary>
public sealed class AlertBookActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    public static readonly TimeSpan ResolvedKept = TimeSpan.FromDays(7);
    private static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(1), RetryMax = TimeSpan.FromMinutes(1);

    private sealed record Saved(IReadOnlyList<Alert> Alerts);
    private sealed record NotSaved(IReadOnlyList<Alert> Alerts, string Reason);
    private sealed record SaveAgain;

    private readonly MeasurementStore _store;
    private readonly Dictionary<(string Node, string Name), Alert> _firing = new();
    private readonly List<Alert> _resolved = [];
    private List<Alert> _unsaved = [];
    private bool _saving;
    private int _failures;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    private sealed record Restored(IReadOnlyList<Alert> Alerts);
    private sealed record NotRestored(string Reason);
    private sealed record RestoreAgain;
    private bool _restored;

    /// <param name="restored">The alerts saved before the last stop; none: the book reads them itself when it starts,
    /// and holds every question and change until then.</param>
    public static Props Props(MeasurementStore store, IReadOnlyList<Alert>? restored = null) =>
        Akka.Actor.Props.Create(() => new AlertBookActor(store, restored));

    public AlertBookActor(MeasurementStore store, IReadOnlyList<Alert>? restored)
    {
        _store = store;
        if (restored is not null) Restore(restored);

        Receive<object>(message => !_restored && message is not (Restored or NotRestored or RestoreAgain), _ => Stash.Stash());
        Receive<Restored>(loaded =>
        {
            Restore(loaded.Alerts);
            Stash.UnstashAll();
        });
        Receive<NotRestored>(failed =>
        {
            var delay = Backoff.Exponential(RetryMin, RetryMax, _failures++);
            _log.Warning("The saved alerts could not be read ({0}); trying again in {1:0.#} s", failed.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer("restore", new RestoreAgain(), delay);
        });
        Receive<RestoreAgain>(_ => Load());

        Receive<AlertChanged>(changed =>
        {
            Keep(changed.Alert);
            _unsaved.Add(changed.Alert);
            Save();
        });
        Receive<AlertSeen>(seen => Keep(seen.Alert));
        Receive<GetAlerts>(query => Sender.Tell(new AlertList(Select(query))));
        Receive<GetFiringCounts>(_ =>
        {
            var counts = AlertRule.All.ToDictionary(r => r.Name, _ => 0);
            foreach (var alert in _firing.Values) counts[alert.AlertName]++;
            Sender.Tell(new FiringCounts(counts));
        });
        Receive<Saved>(saved =>
        {
            _saving = false;
            _failures = 0;
            foreach (var alert in saved.Alerts) Context.System.EventStream.Publish(new AlertRecorded(alert));
            Save();
        });
        Receive<NotSaved>(failed =>
        {
            _saving = false;
            _unsaved.InsertRange(0, failed.Alerts);
            var delay = Backoff.Exponential(RetryMin, RetryMax, _failures++);
            _log.Warning("{0} alert transitions not saved ({1}); trying again in {2:0.#} s", failed.Alerts.Count, failed.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer("save", new SaveAgain(), delay);
        });
        Receive<SaveAgain>(_ => Save());
    }

    protected override void PreStart()
    {
        if (!_restored) Load();
    }

    private void Load()
    {
        var since = DateTimeOffset.UtcNow - ResolvedKept;
        _store.AlertsAsync(since.ToUnixTimeMilliseconds()).PipeTo(Self,
            success: stored => new Restored(FromStore(stored)), failure: error => new NotRestored(error.GetBaseException().Message));
    }

    private void Restore(IReadOnlyList<Alert> alerts)
    {
        foreach (var alert in alerts) Keep(alert);
        _restored = true;
        _failures = 0;
    }

    /// <summary>The restored alerts that are still firing, for their node actors to go on from.</summary>
    public static IReadOnlyList<Alert> FromStore(IEnumerable<StoredAlert> stored) => stored.Select(s => new Alert(
        s.AlertName, s.NodeId, s.Severity, s.EndsAtMs is null ? AlertState.Firing : AlertState.Resolved,
        DateTimeOffset.FromUnixTimeMilliseconds(s.StartsAtMs),
        s.EndsAtMs is { } end ? DateTimeOffset.FromUnixTimeMilliseconds(end) : null, s.Summary)).ToList();

    private void Keep(Alert alert)
    {
        var key = (alert.NodeId, alert.AlertName);
        if (alert.State == AlertState.Firing) _firing[key] = alert;
        else
        {
            _firing.Remove(key);
            _resolved.Add(alert);
        }
    }

    private List<Alert> Select(GetAlerts query)
    {
        var since = Context.System.Scheduler.Now - ResolvedKept;
        _resolved.RemoveAll(a => a.EndsAt < since);
        IEnumerable<Alert> all = query.State switch
        {
            AlertState.Firing => _firing.Values,
            AlertState.Resolved => _resolved,
            _ => _firing.Values.Concat(_resolved),
        };
        if (query.NodeId is { } node) all = all.Where(a => a.NodeId == node);
        // Firing first, then the newest first: what needs attention leads.
        return all.OrderBy(a => a.State).ThenByDescending(a => a.EndsAt ?? a.StartsAt).ThenBy(a => a.NodeId, StringComparer.Ordinal)
            .ThenBy(a => a.AlertName, StringComparer.Ordinal).ToList();
    }

    private void Save()
    {
        if (_saving || _unsaved.Count == 0) return;
        _saving = true;
        var batch = _unsaved;
        _unsaved = [];
        _store.SaveAlertsAsync(batch.Select(a => new StoredAlert(a.NodeId, a.AlertName, a.Severity, a.StartsAt.ToUnixTimeMilliseconds(),
                a.EndsAt?.ToUnixTimeMilliseconds(), a.Summary)).ToList())
            .PipeTo(Self, success: () => new Saved(batch), failure: e => new NotSaved(batch, e.GetBaseException().Message));
    }
}
