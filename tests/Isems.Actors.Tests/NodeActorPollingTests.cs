using Akka.Actor;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.LineFormat;
using Isems.Simulator;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

public sealed class NodeActorPollingTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    [Fact]
    public async Task A_polled_node_stores_its_log_and_is_up()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 10);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var status = PollOnce(nodes, node.NodeId);

        Assert.Equal(NodeState.Up, status.State);
        Assert.Equal(10, status.LinesStored);
        Assert.Equal(node.NewestTimestamp, status.Latest!.Measurement.Timestamp);
        Assert.Equal(10, await Store.CountAsync());
        Assert.Null(status.LastError);
    }

    [Fact]
    public void A_node_actor_stopped_while_it_waits_for_a_poll_slot_gives_the_slot_back()
    {
        // Every slot taken by other polls; the node's actor asks for one and is stopped before it comes (its shard
        // moved to another member, or the node was removed). A slot it never used must not stay its own: once every
        // slot was lost so, a cluster member stopped polling altogether (seen in the cluster benchmark).
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        var gate = new PollGate(1);
        var other = gate.Wait();
        Assert.True(other.Granted.IsCompletedSuccessfully);
        var actor = Sys.ActorOf(NodeActor.Props(node.NodeId, CreateTestProbe().Ref, NodeLogFetcher.Create(DefaultPolling), gate, DefaultPolling, NodeEvents.Nowhere(Sys)));
        actor.Tell(new StartPolling(node.NodeId, node.LogUrl, PollAtOnce: true));
        AwaitCondition(() => gate.Queued == 1, TimeSpan.FromSeconds(10));

        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
        gate.Leave();

        AwaitCondition(() => gate.Free == 1 && gate.Queued == 0, TimeSpan.FromSeconds(10));
        Assert.Equal(0, node.Requests);
        Assert.True(gate.Wait().Granted.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task The_first_poll_waits_for_the_nodes_own_slot_in_the_interval()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var status = AwaitArmed(nodes, node.NodeId);

        Assert.Equal(PollSchedule.UntilNextSlot(node.NodeId, DefaultPolling.Interval, Scheduler.Now), status.NextPoll!.Value - Scheduler.Now);
        Assert.Equal(0, status.Polls);
    }

    [Fact]
    public async Task Later_polls_ask_only_for_what_is_new()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 3000);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        var first = PollOnce(nodes, node.NodeId);

        node.Append(2);
        var second = PollOnce(nodes, node.NodeId);

        Assert.Equal(3002, second.LinesStored);
        Assert.Equal(0, second.LinesDuplicate);
        var newBytes = node.Lines.TakeLast(2).Sum(l => l.Length + 1);
        Assert.InRange(second.BytesFetched - first.BytesFetched, newBytes, newBytes + 1);
    }

    [Fact]
    public async Task A_node_that_ignores_range_sends_its_whole_log_but_only_new_lines_are_stored()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 100);
        node.HonorRange = false;
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        var first = PollOnce(nodes, node.NodeId);

        node.Append();
        var second = PollOnce(nodes, node.NodeId);

        Assert.Equal(101, second.LinesStored);
        Assert.Equal(0, second.LinesDuplicate);
        Assert.Equal(node.Lines.Sum(l => l.Length + 1), second.BytesFetched - first.BytesFetched);
    }

    [Fact]
    public async Task A_log_rewritten_under_the_same_length_is_read_again_from_its_start()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 100);
        node.HonorRange = false;
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        PollOnce(nodes, node.NodeId);

        node.Rotate();
        node.Append(120);
        var after = PollOnce(nodes, node.NodeId);

        Assert.Equal(220, after.LinesStored);
        Assert.Equal(0, after.LinesDuplicate);
    }

    [Fact]
    public async Task A_rotated_log_is_reported_then_read_from_its_start()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 50);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        PollOnce(nodes, node.NodeId);

        node.Rotate();
        var missing = PollOnce(nodes, node.NodeId);
        Assert.Equal(NodeState.Up, missing.State);
        Assert.Contains("404", missing.LastError);

        node.Append(3);
        var fresh = PollOnce(nodes, node.NodeId);
        Assert.Equal(53, fresh.LinesStored);
        Assert.Null(fresh.LastError);
    }

    [Fact]
    public async Task Bad_lines_are_counted_by_reason_and_the_good_ones_stored()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 0);
        node.BadLineEvery = 7;
        node.Append(70);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var status = PollOnce(nodes, node.NodeId);

        Assert.Equal(node.GoodLineCount, status.LinesStored);
        Assert.Equal(70 - node.GoodLineCount, status.LinesRejected.Total);
        Assert.Contains("rejected", status.LastError);
        Assert.Equal(NodeState.Up, status.State);
    }

    [Fact]
    public async Task A_failing_node_is_retried_with_backoff_inside_the_interval_then_marked_down()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        node.Fault = NodeFault.ServerError;
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var first = PollOnce(nodes, node.NodeId);
        Assert.Equal(1, first.ConsecutiveFailures);
        Assert.Equal(NodeState.Unknown, first.State);
        var cycleStart = first.LastAttempt!.Value;

        var delays = new List<TimeSpan>();
        var previous = first;
        for (var retry = 1; retry <= DefaultPolling.Retries; retry++)
        {
            delays.Add(previous.NextPoll!.Value - previous.LastAttempt!.Value);
            previous = PollOnce(nodes, node.NodeId);
        }

        Assert.Equal(NodeState.Down, previous.State);
        Assert.Equal(4, previous.ConsecutiveFailures);
        Assert.Equal(4, node.Requests);
        Assert.Contains("500", previous.LastError);
        Assert.Equal(cycleStart, previous.DownSince);
        // Each retry waits longer than the one before (exponential, jittered by at most half), and all fit in the interval.
        Assert.True(delays[1] > delays[0] && delays[2] > delays[1], string.Join(", ", delays));
        Assert.True(delays.Aggregate(TimeSpan.Zero, (a, b) => a + b) < DefaultPolling.Interval);
        // After the last retry the node waits for its next slot.
        AssertClose(PollSchedule.UntilNextSlot(node.NodeId, DefaultPolling.Interval, previous.LastAttempt!.Value),
            previous.NextPoll!.Value - previous.LastAttempt!.Value, TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_node_down_for_hours_is_polled_less_often_and_one_success_resets_it()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        node.Fault = NodeFault.ServerError;
        var polling = DefaultPolling with { Retries = 0, SlowdownAfter = TimeSpan.FromMinutes(10), MaxSlowdownFactor = 4 };
        var nodes = await StartNodesAsync(polling);
        var log = CreateTestProbe();
        Collector!.System.EventStream.Subscribe(log.Ref, typeof(Akka.Event.Warning));
        Collector!.System.EventStream.Subscribe(log.Ref, typeof(Akka.Event.Info));
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var gaps = new List<TimeSpan>();
        var status = PollOnce(nodes, node.NodeId);
        for (var i = 0; i < 40; i++)
        {
            gaps.Add(status.NextPoll!.Value - status.LastAttempt!.Value);
            status = PollOnce(nodes, node.NodeId);
        }

        // Down under 10 minutes: every minute; then 2, then capped at 4 minutes.
        AssertClose(TimeSpan.FromMinutes(1), gaps[1], TimeSpan.FromMilliseconds(50));
        Assert.Contains(gaps, g => Math.Abs((g - TimeSpan.FromMinutes(2)).TotalSeconds) < 0.1);
        AssertClose(TimeSpan.FromMinutes(4), gaps[^1], TimeSpan.FromMilliseconds(50));
        Assert.DoesNotContain(gaps, g => g > TimeSpan.FromMinutes(4) + TimeSpan.FromMilliseconds(50));

        node.Fault = NodeFault.None;
        var up = PollOnce(nodes, node.NodeId);
        Assert.Equal(NodeState.Up, up.State);
        Assert.Equal(0, up.ConsecutiveFailures);
        Assert.Null(up.DownSince);
        AssertClose(TimeSpan.FromMinutes(1), up.NextPoll!.Value - up.LastAttempt!.Value, TimeSpan.FromMinutes(1));
        var next = PollOnce(nodes, node.NodeId);
        AssertClose(TimeSpan.FromMinutes(1), next.NextPoll!.Value - next.LastAttempt!.Value, TimeSpan.FromMilliseconds(50));

        // Some 40 failed attempts over hours, and the log has two lines about it: down, and up again (the NodeDown
        // alert's own transitions are logged apart, once each).
        var lines = log.ReceiveWhile(TimeSpan.FromMilliseconds(500), m => (Akka.Event.LogEvent)m)
            .Select(e => e.Message.ToString()!).Where(m => m.Contains("Elektra-Dach")).ToList();
        Assert.Single(lines, m => m.StartsWith("Alert NodeDown firing"));
        lines.RemoveAll(m => m.StartsWith("Alert "));
        Assert.Equal(2, lines.Count);
        Assert.Contains("is down", lines[0]);
        Assert.Contains("is up again", lines[1]);
    }

    [Fact]
    public async Task A_node_known_only_by_address_learns_its_id_from_its_lines()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        var nodes = await StartNodesAsync();
        var key = node.LogUrl.ToString();
        nodes.Tell(new StartPolling(key, node.LogUrl));

        var status = PollOnce(nodes, key);

        Assert.Equal("Elektra-Dach", status.NodeId);
        Assert.Equal(key, StatusOf(nodes, "Elektra-Dach").NodeKey);
    }

    [Fact]
    public async Task A_node_known_only_by_address_is_moved_to_its_id_by_the_registry_and_its_address_actor_stops()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        var collector = await StartCollectorAsync(configured: [node.LogUrl]);
        var (nodes, registry) = (collector.Nodes, collector.NodeRegistry);
        var key = node.LogUrl.ToString();

        var armed = AwaitArmed(nodes, key);
        Scheduler.Advance(armed.NextPoll!.Value - Scheduler.Now + TimeSpan.FromMilliseconds(1));

        AwaitAssert(() =>
        {
            Assert.IsType<NodeNotFound>(nodes.Ask<object>(new GetNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult());
            var moved = nodes.Ask<NodeStatus>(new GetNodeStatus("Elektra-Dach"), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();
            Assert.Equal(node.LogUrl, moved.LogUrl);
            Assert.Equal("Elektra-Dach", moved.NodeId);
            Assert.Equal(node.NewestTimestamp, moved.Latest!.Measurement.Timestamp);
            Assert.NotNull(moved.NextPoll);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        var entry = await registry.Ask<RegistryEntry>(new GetRegisteredNode("Elektra-Dach"), TimeSpan.FromSeconds(3));
        Assert.Equal("Elektra-Dach", entry.Node.Key);
        Assert.Equal(node.LogUrl, entry.Node.Url);

        // The fleet's status lists the node once, under its id, with its record from under its address; its next poll
        // reads the log on from where the first one stopped.
        var fleet = await nodes.Ask<FleetStatus>(new GetFleetStatus(), TimeSpan.FromSeconds(3));
        var listed = Assert.Single(fleet.Nodes);
        Assert.Equal(("Elektra-Dach", NodeState.Up, 1L, 5L), (listed.NodeKey, listed.State, listed.Polls, listed.LinesStored));
        node.Append();
        var next = PollOnce(nodes, "Elektra-Dach");
        Assert.Equal((6L, 0L), (next.LinesStored, next.LinesDuplicate));
        var newBytes = node.Lines[^1].Length + 1;
        Assert.InRange(next.BytesFetched - listed.BytesFetched, newBytes, newBytes + 1);
    }

    [Fact]
    public async Task Hanging_resetting_and_garbage_nodes_do_not_delay_the_others()
    {
        var hang = Fleet.AddNode("hang", historyLines: 5);
        hang.Fault = NodeFault.Hang;
        var reset = Fleet.AddNode("reset", historyLines: 5);
        reset.Fault = NodeFault.Reset;
        var garbage = Fleet.AddNode("garbage", historyLines: 5);
        garbage.Fault = NodeFault.GarbageResponse;
        var good = Enumerable.Range(1, 5).Select(i => Fleet.AddNode($"good-{i}", historyLines: 20)).ToList();
        var nodes = await StartNodesAsync(DefaultPolling with { Timeout = TimeSpan.FromSeconds(3) });
        foreach (var n in Fleet.Nodes) nodes.Tell(new StartPolling(n.NodeId, n.LogUrl));

        var arrival = new List<PollOutcome>();
        var polls = Fleet.Nodes.Select(async n =>
        {
            var outcome = await nodes.Ask<PollOutcome>(new PollNow(n.NodeId), TimeSpan.FromSeconds(10));
            lock (arrival) arrival.Add(outcome);
        });
        await Task.WhenAll(polls);

        Assert.Equal("hang", arrival[^1].NodeKey);
        Assert.Contains("timed out", arrival[^1].Error);
        Assert.All(arrival.Where(o => o.NodeKey.StartsWith("good")), o => Assert.True(o.Succeeded && o.Stored == 20, o.Error));
        Assert.False(arrival.Single(o => o.NodeKey == "reset").Succeeded);
        Assert.False(arrival.Single(o => o.NodeKey == "garbage").Succeeded);
        Assert.Equal(100, await Store.CountAsync());
    }

    [Fact]
    public async Task An_esp_board_answering_bare_http_10_without_length_is_read_to_its_last_line()
    {
        var node = Fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 5);
        var nodes = await StartNodesAsync();
        nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
        var first = PollOnce(nodes, node.NodeId);
        Assert.Equal(5, first.LinesStored);
        Assert.Equal(node.NewestTimestamp, first.Latest!.Measurement.Timestamp);

        node.Append();
        var second = PollOnce(nodes, node.NodeId);

        Assert.Equal(6, second.LinesStored);
        Assert.Equal(4, second.LinesDuplicate);
        Assert.Equal(node.NewestTimestamp, second.Latest!.Measurement.Timestamp);
    }

    private static void AssertClose(TimeSpan expected, TimeSpan actual, TimeSpan tolerance) =>
        Assert.True((expected - actual).Duration() <= tolerance, $"expected {expected} ± {tolerance}, was {actual}");
}
