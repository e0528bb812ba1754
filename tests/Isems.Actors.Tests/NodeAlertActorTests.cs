using Akka.Actor;
using Akka.TestKit;
using Isems.Actors.Alerts;
using Isems.Actors.Nodes;
using Isems.LineFormat;
using Isems.Simulator;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// Alerts evaluated by the node actors on virtual time: status bits of stored lines, silence of a pushing and of a
/// polled node on the actor's own timers; transitions observed where they leave the node (the event stream).
/// </summary>
public sealed class NodeAlertActorTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    // Virtual time decides when an alert changes; this only bounds how long a loaded machine may take to tell it.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private TestProbe Alerts()
    {
        var probe = CreateTestProbe();
        Collector!.System.EventStream.Subscribe(probe.Ref, typeof(AlertChanged));
        return probe;
    }

    private long _ts;

    private void Push(IActorRef nodes, string status, string nodeId = "FF-ESP-Hof")
    {
        if (_ts == 0) _ts = Scheduler.Now.ToUnixTimeSeconds() - 600;
        var line = SimulatedLines.Esp(nodeId, _ts += 15);
        line = line[..(line.LastIndexOf(';') + 1)] + status;
        var parsed = LineParser.ParsePayload(line, Scheduler.Now.ToUnixTimeSeconds());
        Assert.Single(parsed.Lines);
        nodes.Tell(new IngestLines(nodeId, parsed.Lines, RejectionCounts.None, _ts));
        ExpectMsg<LinesIngested>(TimeSpan.FromSeconds(10));
        StatusOf(nodes, nodeId); // the actor has finished with the write (its timers are armed)
    }

    [Fact]
    public async Task A_pushing_nodes_second_battery_low_line_fires_BatteryLow_and_two_clear_lines_resolve_it()
    {
        var nodes = await StartNodesAsync();
        var alerts = Alerts();

        Push(nodes, "980");
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Push(nodes, "980");
        var fired = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("BatteryLow", "FF-ESP-Hof", "critical", AlertState.Firing), (fired.AlertName, fired.NodeId, fired.Severity, fired.State));

        Push(nodes, "900");
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Push(nodes, "900");
        var resolved = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("BatteryLow", AlertState.Resolved, fired.StartsAt), (resolved.AlertName, resolved.State, resolved.StartsAt));
        Assert.NotNull(resolved.EndsAt);
    }

    [Fact]
    public async Task A_muted_alert_resolves_when_muted_never_fires_while_muted_and_a_muted_silence_fires_soon_after_it_is_unmuted()
    {
        var nodes = await StartNodesAsync();
        var alerts = Alerts();
        Push(nodes, "980");
        Push(nodes, "980");
        var fired = alerts.ExpectMsg<AlertChanged>(Patience).Alert;

        nodes.Tell(new MuteAlerts("FF-ESP-Hof", ["BatteryLow", "NodeSilent"]));
        var resolved = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("BatteryLow", AlertState.Resolved, fired.StartsAt), (resolved.AlertName, resolved.State, resolved.StartsAt));
        Push(nodes, "980");
        Push(nodes, "980");
        Scheduler.Advance(TimeSpan.FromHours(2)); // silent, but muted
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // Unmuted: the silence is looked at again within a minute and fires at once (it held all along).
        nodes.Tell(new MuteAlerts("FF-ESP-Hof", []));
        StatusOf(nodes, "FF-ESP-Hof");
        Scheduler.Advance(TimeSpan.FromMinutes(1));
        var silent = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("NodeSilent", AlertState.Firing), (silent.AlertName, silent.State));
        Push(nodes, "980"); // and BatteryLow, which held too, fires on its next line
        var again = alerts.FishForMessage<AlertChanged>(c => c.Alert.AlertName == "BatteryLow").Alert;
        Assert.Equal(AlertState.Firing, again.State);
    }

    [Fact]
    public async Task A_pushing_node_that_goes_quiet_fires_NodeSilent_after_the_threshold_and_resolves_with_its_next_two_lines()
    {
        var nodes = await StartNodesAsync();
        var alerts = Alerts();
        Push(nodes, "900");

        Scheduler.Advance(TimeSpan.FromMinutes(44));
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Scheduler.Advance(TimeSpan.FromMinutes(1)); // 45 minutes: the condition is seen once
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Scheduler.Advance(TimeSpan.FromMinutes(1)); // seen twice: fires
        var fired = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("NodeSilent", "FF-ESP-Hof", AlertState.Firing), (fired.AlertName, fired.NodeId, fired.State));
        Scheduler.Advance(TimeSpan.FromHours(3));
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // told once

        Push(nodes, "900");
        Push(nodes, "900");
        var resolved = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("NodeSilent", AlertState.Resolved, fired.StartsAt), (resolved.AlertName, resolved.State, resolved.StartsAt));
    }

    [Fact]
    public async Task A_polled_node_whose_log_stops_growing_fires_NodeSilent_though_its_polls_succeed()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 3);
        var nodes = await StartNodesAsync();
        var alerts = Alerts();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        PollOnce(nodes, node.NodeId);

        // Polls go on every minute and succeed, but the log has nothing new.
        for (var i = 0; i < 44; i++) PollOnce(nodes, node.NodeId);
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 3; i++) PollOnce(nodes, node.NodeId);
        var fired = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("NodeSilent", "Elektra-Dach", AlertState.Firing), (fired.AlertName, fired.NodeId, fired.State));
        Assert.Equal(NodeState.Up, StatusOf(nodes, node.NodeId).State);

        node.Append(1);
        PollOnce(nodes, node.NodeId);
        alerts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        node.Append(1);
        PollOnce(nodes, node.NodeId);
        var resolved = alerts.ExpectMsg<AlertChanged>(Patience).Alert;
        Assert.Equal(("NodeSilent", AlertState.Resolved, fired.StartsAt), (resolved.AlertName, resolved.State, resolved.StartsAt));
    }
}
