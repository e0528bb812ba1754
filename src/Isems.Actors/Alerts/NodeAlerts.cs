namespace Isems.Actors.Alerts;

/// <summary>
/// A node's alerts as plain state: each rule of §8 with its hysteresis (2 observations in, 2 out). The node's actor
/// feeds it what it sees (each new measurement, each poll's end, its silence and down timers) and publishes the
/// transitions returned. No Akka, no I/O, no clock of its own: every instant is given, so a test can pin it.
/// </summary>
public sealed class NodeAlerts(AlertOptions options)
{
    private sealed class Track
    {
        public int Streak; // consecutive observations against the current state
        public DateTimeOffset? StartsAt; // set while firing
    }

    // Made when a rule first holds: most nodes never have an alert, and there may be 100,000 of them.
    private Dictionary<string, Track>? _tracks;
    private HashSet<string>? _muted;

    public AlertOptions Options => options;

    /// <summary>The newest measurement time observed, so a line seen again (a re-read log, a repeated push) is observed once.</summary>
    public long SeenUpTo { get; private set; } = long.MinValue;

    public bool IsFiring(string alertName) => _tracks is not null && _tracks.TryGetValue(alertName, out var t) && t.StartsAt is not null;

    public IEnumerable<(string AlertName, DateTimeOffset StartsAt)> Firing => _tracks is null ? [] :
        _tracks.Where(t => t.Value.StartsAt is not null).Select(t => (t.Key, t.Value.StartsAt!.Value));

    /// <summary>
    /// A new measurement was stored: the status-bit rules observe its bits, and the node is not silent. Lines not newer
    /// than one already observed are ignored. A line without status bits feeds only the silence rule.
    /// </summary>
    public void Measured(long timestamp, int? status, DateTimeOffset now, string nodeId, List<Alert> changes)
    {
        if (timestamp <= SeenUpTo) return;
        SeenUpTo = timestamp;
        Observe(AlertRule.NodeSilent, false, now, nodeId, changes);
        if (status is not { } bits) return;
        foreach (var rule in AlertRule.StatusBits)
            Observe(rule.Name, (bits & rule.Bit!.Value) != 0, now, nodeId, changes);
    }

    /// <summary>The silence timer went off: the node has sent nothing new since <paramref name="lastNew"/>.</summary>
    public void SilenceChecked(DateTimeOffset lastNew, DateTimeOffset now, string nodeId, List<Alert> changes) =>
        Observe(AlertRule.NodeSilent, now - lastNew >= options.Silent, now, nodeId, changes);

    /// <summary>
    /// A poll ended, or the down timer went off: <paramref name="failingSince"/> is when the node's current run of failed
    /// polls began, null when its last poll succeeded.
    /// </summary>
    public void PollsObserved(DateTimeOffset? failingSince, DateTimeOffset now, string nodeId, List<Alert> changes) =>
        Observe(AlertRule.NodeDown, failingSince is { } since && now - since >= options.Down, now, nodeId, changes);

    /// <summary>
    /// Whether the silence timer should look again soon: the condition has begun to hold, or it holds and the alert has
    /// not fired yet (muted alerts never fire, so they need no recheck).
    /// </summary>
    public bool Pending(string alertName) =>
        _tracks is not null && _tracks.TryGetValue(alertName, out var t) && t.StartsAt is null && t.Streak > 0 && _muted?.Contains(alertName) != true;

    /// <summary>The alert names muted for this node: they are evaluated, but never fire; one firing resolves now.</summary>
    public void Mute(IReadOnlyCollection<string> names, DateTimeOffset now, string nodeId, List<Alert> changes)
    {
        _muted = names.Count == 0 ? null : names.ToHashSet();
        foreach (var name in names)
            if (_tracks is not null && _tracks.TryGetValue(name, out var t) && t.StartsAt is { } startsAt)
            {
                t.StartsAt = null;
                t.Streak = 0;
                changes.Add(Make(name, nodeId, AlertState.Resolved, startsAt, now));
            }
    }

    public IReadOnlyCollection<string> Muted => (IReadOnlyCollection<string>?)_muted ?? [];

    /// <summary>An alert that was firing before a restart goes on firing, with its startsAt, without being told again.</summary>
    public void Restore(string alertName, DateTimeOffset startsAt) => (_tracks ??= new())[alertName] = new Track { StartsAt = startsAt };

    /// <summary>
    /// What goes with the node when it moves to another key: the alerts firing, the streaks under way (a node's first
    /// battery-low line seen under its address counts toward the alert under its id) and what was observed.
    /// </summary>
    public NodeAlertsCarry Carry(DateTimeOffset? lastNew) => new(Firing.ToList(), SeenUpTo, lastNew, Streaks());

    private List<(string AlertName, int Streak)>? Streaks() =>
        _tracks?.Where(t => t.Value.Streak > 0).Select(t => (t.Key, t.Value.Streak)).ToList() is { Count: > 0 } streaks ? streaks : null;

    public void TakeUp(NodeAlertsCarry carried)
    {
        foreach (var (name, startsAt) in carried.Firing) Restore(name, startsAt);
        foreach (var (name, streak) in carried.Streaks ?? [])
        {
            // A streak toward firing (or toward resolving one that fires): kept where the alert's state agrees with it.
            var firing = carried.Firing.Any(f => f.AlertName == name);
            if (_tracks?.TryGetValue(name, out var track) == true)
            {
                if ((track.StartsAt is not null) == firing) track.Streak = Math.Max(track.Streak, streak);
            }
            else if (!firing) (_tracks ??= new())[name] = new Track { Streak = streak };
        }
        RestoreSeenUpTo(carried.SeenUpTo);
    }

    /// <summary>
    /// After a restart: the newest stored line is observed again by the status-bit rules, telling nothing. A change
    /// takes <see cref="AlertOptions.Hysteresis"/> observations, so with two a streak under way at the stop was that
    /// one line: the node's first battery-low line before a restart and its second after it fire BatteryLow.
    /// Call it after <see cref="Restore"/>: a firing alert's streak toward resolving is rebuilt the same way.
    /// </summary>
    public void Primed(long timestamp, int? status)
    {
        if (timestamp <= SeenUpTo) return;
        SeenUpTo = timestamp;
        if (status is not { } bits || options.Hysteresis < 2) return;
        var none = new List<Alert>(0);
        foreach (var rule in AlertRule.StatusBits)
            Observe(rule.Name, (bits & rule.Bit!.Value) != 0, default, "", none);
    }

    public void RestoreSeenUpTo(long seenUpTo)
    {
        if (seenUpTo > SeenUpTo) SeenUpTo = seenUpTo;
    }

    private void Observe(string name, bool holds, DateTimeOffset now, string nodeId, List<Alert> changes)
    {
        if (_tracks is null || !_tracks.TryGetValue(name, out var track))
        {
            if (!holds) return; // a rule that never held keeps no state: most nodes, most rules
            (_tracks ??= new())[name] = track = new Track();
        }
        var firing = track.StartsAt is not null;
        if (holds == firing)
        {
            track.Streak = 0;
            if (!firing) _tracks.Remove(name);
            return;
        }
        if (++track.Streak < options.Hysteresis) return;
        track.Streak = 0;
        if (holds)
        {
            if (_muted?.Contains(name) == true) { track.Streak = options.Hysteresis; return; }
            track.StartsAt = now;
            changes.Add(Make(name, nodeId, AlertState.Firing, now, null));
        }
        else
        {
            var startsAt = track.StartsAt!.Value;
            _tracks.Remove(name);
            changes.Add(Make(name, nodeId, AlertState.Resolved, startsAt, now));
        }
    }

    public static Alert Make(string name, string nodeId, AlertState state, DateTimeOffset startsAt, DateTimeOffset? endsAt)
    {
        var rule = AlertRule.Find(name)!;
        return new Alert(name, nodeId, rule.Severity, state, startsAt, endsAt, $"{nodeId}: {rule.Summary}");
    }
}

/// <summary>
/// A node's alert state as plain data, moving with the node from its address to its id: the alerts firing, the
/// streaks under way (<see cref="AlertOptions.Hysteresis"/> observations make a change), the newest line observed and
/// when the last new one came.
/// </summary>
public sealed record NodeAlertsCarry(
    IReadOnlyList<(string AlertName, DateTimeOffset StartsAt)> Firing, long SeenUpTo, DateTimeOffset? LastNew,
    IReadOnlyList<(string AlertName, int Streak)>? Streaks = null);
