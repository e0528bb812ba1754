using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.LineFormat;

namespace Isems.Actors.Tests;

/// <summary>The node's decisions as plain state: no actor, no HTTP, no SQLite, time given by the test.</summary>
public sealed class NodeDecisionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly PollingOptions Options = new() { Interval = TimeSpan.FromMinutes(15), Retries = 3, JitterSeed = 7 };

    [Fact]
    public void A_failing_node_is_retried_within_its_cycle_then_given_up_and_a_poll_by_hand_is_never_retried()
    {
        var cycle = new PollCycle("Elektra-Dach", Options);

        cycle.Ticked();
        var steps = new List<PollStep> { cycle.Ended(succeeded: false, nodeFailed: true, onSchedule: true) };
        var delays = new List<TimeSpan> { cycle.RetryDelay };
        for (var retry = 0; retry < 3; retry++)
        {
            cycle.Ticked();
            steps.Add(cycle.Ended(false, true, true));
            delays.Add(cycle.RetryDelay);
        }

        Assert.Equal([PollStep.Retry, PollStep.Retry, PollStep.Retry, PollStep.GiveUp], steps);
        Assert.True(delays[0] < delays[1] && delays[1] < delays[2], string.Join(", ", delays));
        Assert.Equal(PollStep.GiveUp, cycle.Ended(false, true, true)); // a poll by hand (no tick): not retried
        Assert.Equal(PollStep.None, cycle.Ended(false, true, onSchedule: false));
    }

    [Fact]
    public void The_database_away_is_not_the_nodes_failure_and_a_success_ends_the_cycle()
    {
        var cycle = new PollCycle("Elektra-Dach", Options);
        cycle.Ticked();

        Assert.Equal(PollStep.NextCycle, cycle.Ended(succeeded: false, nodeFailed: false, onSchedule: true));
        cycle.Ticked();
        Assert.Equal(PollStep.NextCycle, cycle.Ended(true, false, true));
    }

    [Fact]
    public void The_next_cycle_is_the_nodes_slot_and_a_node_down_for_hours_skips_slots()
    {
        var cycle = new PollCycle("Elektra-Dach", Options);
        cycle.Configure(TimeSpan.FromMinutes(5), null);
        var slot = PollSchedule.UntilNextSlot("Elektra-Dach", TimeSpan.FromMinutes(5), T0);

        Assert.Equal(slot, cycle.UntilNextCycle(T0, downFor: TimeSpan.Zero));
        Assert.Equal(slot, cycle.UntilNextCycle(T0, downFor: TimeSpan.FromMinutes(30)));
        Assert.Equal(slot + TimeSpan.FromMinutes(5), cycle.UntilNextCycle(T0, downFor: TimeSpan.FromHours(1.5)));
        Assert.Equal(slot + TimeSpan.FromMinutes(15), cycle.UntilNextCycle(T0, downFor: TimeSpan.FromHours(10)));
        Assert.Equal(Options.Timeout, cycle.Timeout);
    }

    [Fact]
    public void A_node_goes_down_once_since_its_first_failed_attempt_and_comes_up_once()
    {
        var health = new NodeHealth();
        health.Attempted(T0);
        Assert.Null(health.Ended("n", T0, succeeded: false, nodeFailed: true, RejectionCounts.None, "HTTP 500"));
        health.Attempted(T0.AddMinutes(1));
        health.Ended("n", T0.AddMinutes(1), false, true, RejectionCounts.None, "timed out");

        var down = health.GaveUp("n", T0.AddMinutes(2));
        var again = health.GaveUp("n", T0.AddMinutes(20));
        health.Attempted(T0.AddHours(2));
        var up = health.Ended("n", T0.AddHours(2), succeeded: true, nodeFailed: false, RejectionCounts.None, null);

        Assert.Equal(new NodeWentDown("n", T0, "timed out"), down);
        Assert.Null(again);
        Assert.Equal(new NodeCameUp("n", T0.AddHours(2), TimeSpan.FromHours(2)), up);
        Assert.Equal((NodeState.Up, 0, 3L, 2L), (health.State, health.ConsecutiveFailures, health.Polls, health.FailedPolls));
        Assert.Null(health.DownSince);
    }

    [Fact]
    public void A_node_moved_to_its_id_goes_on_with_its_record_and_keeps_what_came_under_the_id_meanwhile()
    {
        var before = new NodeHealth();
        before.Attempted(T0);
        before.Fetched(4_000);
        before.Counted(stored: 12, duplicates: 0);
        before.Ended("10.0.0.1", T0, true, false, RejectionCounts.None, null);
        var moved = new NodeHealth();
        moved.Pushed(T0, lines: 5, RejectionCounts.None);
        moved.Counted(stored: 5, duplicates: 0);

        moved.TakeUp(before.ToStatus("10.0.0.1", "Elektra-Dach", new Uri("http://10.0.0.1/ISEMS/ffopenmppt.log"), true, null, null));

        Assert.Equal((NodeState.Up, 1L, 4_000L, 17L, 5L), (moved.State, moved.Polls, moved.BytesFetched, moved.LinesStored, moved.LinesPushed));
    }
}
