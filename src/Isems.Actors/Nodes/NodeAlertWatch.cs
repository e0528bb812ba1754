using Akka.Actor;
using Isems.Actors.Alerts;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// A node's alerts on its actor's timer: feeds <see cref="NodeAlerts"/> (the plain rules) what the actor sees, and
/// sets the silence and down checks as <see cref="NodeDeadlines"/> (none for a node never heard from, nor while its
/// polls succeed). It returns the transitions; the actor logs and publishes them from one place.
/// Owned by one <see cref="NodeActor"/>, and only ever called in that actor's turn.
/// </summary>
internal sealed class NodeAlertWatch(NodeAlerts alerts, NodeDeadlines deadlines)
{
    private DateTimeOffset? _lastNew; // when the collector last got a new measurement of the node (for NodeSilent)

    public NodeAlerts Alerts => alerts;

    /// <summary>
    /// New lines of the node were stored: each feeds the status-bit rules once, in time order, and the node is not
    /// silent (its silence check moves on). Lines of other nodes (<paramref name="nodeId"/>, <paramref name="key"/>) are not its.
    /// </summary>
    public List<Alert>? Measured(IReadOnlyList<Measurement> lines, string? nodeId, string key, DateTimeOffset now)
    {
        var fresh = false;
        List<Alert>? changes = null;
        // A log's lines come in time order: sorted only when they do not (a whole log read again was sorted for each node).
        foreach (var line in InOrder(lines) ? lines : lines.OrderBy(l => l.Timestamp).ToList())
        {
            if (line.NodeId != nodeId && line.NodeId != key || line.Timestamp <= alerts.SeenUpTo) continue;
            alerts.Measured(line.Timestamp, line.Status, now, nodeId ?? key, changes ??= []);
            fresh = true;
        }
        if (!fresh) return null;
        _lastNew = now;
        deadlines.SetSilence(now + alerts.Options.Silent, now);
        return changes;
    }

    private static bool InOrder(IReadOnlyList<Measurement> lines)
    {
        for (var i = 1; i < lines.Count; i++)
            if (lines[i].Timestamp < lines[i - 1].Timestamp) return false;
        return true;
    }

    /// <summary>The silence check is due: NodeSilent observes how long no new line came.</summary>
    public List<Alert>? SilenceChecked(DateTimeOffset now, string nodeId)
    {
        if (_lastNew is not { } lastNew) return null;
        var changes = new List<Alert>(0);
        alerts.SilenceChecked(lastNew, now, nodeId, changes);
        if (alerts.Pending(AlertRule.NodeSilent)) deadlines.SetSilence(now + alerts.Options.RecheckAfter, now);
        return changes;
    }

    /// <summary>
    /// After a restart, silence counts from the newest stored row (not later than now), and that row is not new; its
    /// status bits rebuild the streaks under way (after the firing alerts are restored).
    /// </summary>
    public void Restored(StoredMeasurement latest, DateTimeOffset now)
    {
        alerts.Primed(latest.Measurement.Timestamp, latest.Measurement.Status);
        var at = latest.Measurement.Time < now ? latest.Measurement.Time : now;
        if (_lastNew is not null && _lastNew >= at) return;
        SilentFrom(at, now);
    }

    /// <summary>The alerts that were firing before the last stop go on (not told again).</summary>
    public void Restored(IEnumerable<Alert> firing)
    {
        foreach (var alert in firing) alerts.Restore(alert.AlertName, alert.StartsAt);
    }

    /// <summary>The node moved here from its address: its alerts go on as they were; firing ones are not told again, silence counts on.</summary>
    public void TakeUp(NodeAlertsCarry carried, DateTimeOffset now)
    {
        alerts.TakeUp(carried);
        if (carried.LastNew is { } lastNew && (_lastNew is null || _lastNew < lastNew)) SilentFrom(lastNew, now);
    }

    public NodeAlertsCarry Carry() => alerts.Carry(_lastNew);

    /// <summary>
    /// A poll ended or the down timer went off: NodeDown observes how long the polls have failed. While they fail and
    /// the alert has not fired, the down timer looks again when the threshold is reached (then a minute later).
    /// </summary>
    public List<Alert> PollsObserved(DateTimeOffset? failingSince, DateTimeOffset now, string nodeId)
    {
        var changes = new List<Alert>(0);
        alerts.PollsObserved(failingSince, now, nodeId, changes);
        if (failingSince is { } since && !alerts.IsFiring(AlertRule.NodeDown))
        {
            var due = alerts.Pending(AlertRule.NodeDown) ? alerts.Options.RecheckAfter : since + alerts.Options.Down - now;
            deadlines.SetDown(now + (due > TimeSpan.Zero ? due : alerts.Options.RecheckAfter), now);
        }
        else deadlines.ClearDown();
        return changes;
    }

    /// <summary>
    /// The registry told the node's mutes: a firing alert now muted resolves. A muted time rule stopped looking again,
    /// so once unmuted it looks again soon, and fires if it still holds.
    /// </summary>
    public List<Alert> Muted(IReadOnlyList<string> names, bool pollsFailing, DateTimeOffset now, string nodeId)
    {
        var changes = new List<Alert>(0);
        alerts.Mute(names, now, nodeId, changes);
        if (_lastNew is { } since && !alerts.IsFiring(AlertRule.NodeSilent))
        {
            var due = since + alerts.Options.Silent - now;
            deadlines.SetSilence(now + (due > alerts.Options.RecheckAfter ? due : alerts.Options.RecheckAfter), now);
        }
        if (pollsFailing && !alerts.IsFiring(AlertRule.NodeDown)) deadlines.SetDown(now + alerts.Options.RecheckAfter, now);
        return changes;
    }

    private void SilentFrom(DateTimeOffset at, DateTimeOffset now)
    {
        _lastNew = at;
        var due = at + alerts.Options.Silent - now;
        deadlines.SetSilence(due > TimeSpan.Zero ? at + alerts.Options.Silent : now, now);
    }
}
