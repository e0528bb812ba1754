using Isems.Actors.Alerts;

namespace Isems.Actors.Tests;

/// <summary>The rules of §8 and their hysteresis, as plain state: no actors, no clock but the instants given.</summary>
public sealed class AlertRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 3, 0, 0, TimeSpan.Zero);
    private readonly NodeAlerts _alerts = new(new AlertOptions());
    private long _ts = T0.ToUnixTimeSeconds();

    private List<Alert> Line(int? status, int minutes)
    {
        var changes = new List<Alert>();
        _alerts.Measured(_ts += 60, status, T0.AddMinutes(minutes), "FF-ESP-Hof", changes);
        return changes;
    }

    [Fact]
    public void The_second_battery_low_line_fires_BatteryLow_and_two_clear_lines_resolve_it_with_the_same_startsAt()
    {
        Assert.Empty(Line(0x900, 0));
        Assert.Empty(Line(0x980, 1));
        var fired = Assert.Single(Line(0x980, 2));
        Assert.Equal(("BatteryLow", "critical", AlertState.Firing, T0.AddMinutes(2), (DateTimeOffset?)null),
            (fired.AlertName, fired.Severity, fired.State, fired.StartsAt, fired.EndsAt));
        Assert.Equal("FF-ESP-Hof", fired.NodeId);
        Assert.Empty(Line(0x980, 3));
        Assert.Empty(Line(0x900, 4));
        var resolved = Assert.Single(Line(0x900, 5));
        Assert.Equal((AlertState.Resolved, T0.AddMinutes(2), (DateTimeOffset?)T0.AddMinutes(5)), (resolved.State, resolved.StartsAt, resolved.EndsAt));
        Assert.False(_alerts.IsFiring("BatteryLow"));
    }

    [Fact]
    public void A_node_moved_from_its_address_to_its_id_goes_on_counting_its_streaks_and_keeps_what_fires()
    {
        // Under its address: the first battery-low line (one of two), and BatteryCold already firing, one clear line in.
        Assert.Empty(Line(0x004, 0));
        Assert.Equal("BatteryCold", Assert.Single(Line(0x004, 1)).AlertName);
        Assert.Empty(Line(0x080, 2));
        var carried = _alerts.Carry(T0.AddMinutes(2));

        // Under its id: the second battery-low line fires BatteryLow; the second clear line resolves BatteryCold with
        // the startsAt it had; a line seen before the move is not observed again.
        var moved = new NodeAlerts(new AlertOptions());
        moved.TakeUp(carried);
        var changes = new List<Alert>();
        moved.Measured(_ts, 0x080, T0.AddMinutes(3), "FF-ESP-Hof", changes);
        Assert.Empty(changes);
        moved.Measured(_ts += 60, 0x080, T0.AddMinutes(3), "FF-ESP-Hof", changes);
        Assert.Equal([("BatteryLow", AlertState.Firing), ("BatteryCold", AlertState.Resolved)],
            changes.Select(c => (c.AlertName, c.State)));
        Assert.Equal(T0.AddMinutes(1), changes[1].StartsAt);
    }

    [Fact]
    public void After_a_restart_the_newest_stored_line_rebuilds_the_streaks_under_way_without_telling_anything()
    {
        // Before the stop: BatteryCold firing, then one line with BatteryLow and without BatteryCold.
        Line(0x004, 0);
        var cold = Assert.Single(Line(0x004, 1));
        Line(0x080, 2);

        // After it: the firing alert restored, then the newest stored line observed again.
        var restarted = new NodeAlerts(new AlertOptions());
        restarted.Restore("BatteryCold", cold.StartsAt);
        restarted.Primed(_ts, 0x080);
        restarted.Primed(_ts, 0x080); // the same line again changes nothing
        var changes = new List<Alert>();
        restarted.Measured(_ts, 0x080, T0.AddMinutes(3), "FF-ESP-Hof", changes); // not new
        Assert.Empty(changes);
        restarted.Measured(_ts + 60, 0x080, T0.AddMinutes(3), "FF-ESP-Hof", changes);
        Assert.Equal([("BatteryLow", AlertState.Firing), ("BatteryCold", AlertState.Resolved)],
            changes.Select(c => (c.AlertName, c.State)));
        Assert.Equal(cold.StartsAt, changes[1].StartsAt);
    }

    [Fact]
    public void One_line_against_the_state_changes_nothing_either_way()
    {
        Assert.Empty(Line(0x008, 0));
        Assert.Empty(Line(0x000, 1));
        Assert.Empty(Line(0x008, 2)); // the streak began again
        Assert.Equal("BatteryOverheating", Assert.Single(Line(0x008, 3)).AlertName);
        Assert.Empty(Line(0x000, 4));
        Assert.Empty(Line(0x008, 5));
        Assert.Empty(Line(0x000, 6));
        Assert.True(_alerts.IsFiring("BatteryOverheating"));
    }

    [Fact]
    public void Each_status_bit_fires_its_own_rule_with_its_severity()
    {
        Line(0x0FC, 0);
        var fired = Line(0x0FC, 1).ToDictionary(a => a.AlertName, a => a.Severity);
        Assert.Equal(new Dictionary<string, string>
        {
            ["BatteryLow"] = "critical", ["BatteryOverheating"] = "critical", ["BatteryCold"] = "warning",
            ["ControllerUnreachable"] = "warning", ["TemperatureSensorMissing"] = "info", ["StorageTooSmall"] = "info",
        }, fired);
    }

    [Fact]
    public void A_line_seen_again_is_not_a_second_observation_and_a_line_without_status_feeds_only_silence()
    {
        var changes = new List<Alert>();
        _alerts.Measured(100, 0x080, T0, "n", changes);
        _alerts.Measured(100, 0x080, T0, "n", changes);
        _alerts.Measured(99, 0x080, T0, "n", changes);
        _alerts.Measured(101, null, T0, "n", changes);
        Assert.Empty(changes);
        // The status-less line neither broke the streak of the first nor counted: this is the second observation.
        _alerts.Measured(102, 0x080, T0, "n", changes);
        Assert.Equal("BatteryLow", Assert.Single(changes).AlertName);
    }

    [Fact]
    public void Silence_past_the_threshold_fires_on_its_second_check_and_two_new_lines_resolve_it()
    {
        var lastNew = T0;
        var changes = new List<Alert>();
        _alerts.SilenceChecked(lastNew, T0.AddMinutes(44), "n", changes);
        _alerts.SilenceChecked(lastNew, T0.AddMinutes(44.5), "n", changes);
        Assert.Empty(changes);
        _alerts.SilenceChecked(lastNew, T0.AddMinutes(45), "n", changes);
        Assert.Empty(changes);
        Assert.True(_alerts.Pending(AlertRule.NodeSilent));
        _alerts.SilenceChecked(lastNew, T0.AddMinutes(46), "n", changes);
        var fired = Assert.Single(changes);
        Assert.Equal(("NodeSilent", "warning", AlertState.Firing), (fired.AlertName, fired.Severity, fired.State));
        Assert.False(_alerts.Pending(AlertRule.NodeSilent));
        Assert.Empty(Line(0, 50));
        Assert.Equal(AlertState.Resolved, Assert.Single(Line(0, 51)).State);
    }

    [Fact]
    public void Polls_failing_for_the_down_threshold_fire_NodeDown_and_two_good_polls_resolve_it()
    {
        var changes = new List<Alert>();
        _alerts.PollsObserved(T0, T0.AddMinutes(15), "n", changes);
        _alerts.PollsObserved(T0, T0.AddMinutes(29), "n", changes);
        _alerts.PollsObserved(T0, T0.AddMinutes(30), "n", changes);
        Assert.Empty(changes);
        _alerts.PollsObserved(T0, T0.AddMinutes(31), "n", changes);
        Assert.Equal(("NodeDown", AlertState.Firing, T0.AddMinutes(31)), (changes[0].AlertName, changes[0].State, changes[0].StartsAt));
        _alerts.PollsObserved(null, T0.AddMinutes(40), "n", changes);
        _alerts.PollsObserved(T0.AddMinutes(60), T0.AddMinutes(80), "n", changes); // failing again, but not for 30 minutes
        Assert.Equal(AlertState.Resolved, changes[^1].State);
        Assert.Equal(2, changes.Count);
    }

    [Fact]
    public void A_muted_alert_never_fires_and_muting_a_firing_one_resolves_it()
    {
        var changes = new List<Alert>();
        _alerts.Mute(["BatteryLow"], T0, "n", changes);
        Line(0x088, 0);
        Assert.Equal("BatteryOverheating", Assert.Single(Line(0x088, 1)).AlertName);
        Assert.Empty(Line(0x088, 2));
        _alerts.Mute(["BatteryOverheating"], T0.AddMinutes(3), "n", changes);
        Assert.Equal(("BatteryOverheating", AlertState.Resolved), (changes[0].AlertName, changes[0].State));
        // BatteryLow is no longer muted: it has held for three lines, so it fires on the next one.
        Assert.Equal("BatteryLow", Assert.Single(Line(0x088, 4)).AlertName);
    }
}
