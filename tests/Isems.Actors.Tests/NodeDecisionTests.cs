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
    [Fact]
    public void A_node_telling_its_id_holds_its_polls_until_the_registry_answers_or_the_first_retry_and_then_never_again()
    {
        var identity = new NodeIdentity();

        var first = identity.Told(reached: true, out var pollNow);
        Assert.False(pollNow);
        Assert.False(identity.MayPoll()); // held: the registry may move the node any moment
        Assert.False(identity.MayPoll());
        Assert.True(identity.Release()); // the registry kept it here: the held poll (one, not two) starts now
        Assert.False(identity.Release());
        Assert.True(identity.MayPoll());

        // Told again (the registry did not answer): polls no longer wait, and the retries back off to their ceiling.
        var retries = Enumerable.Range(0, 8).Select(i => identity.Told(reached: true, out _)).ToList();
        Assert.True(identity.MayPoll());
        Assert.Equal(NodeIdentity.RetryMin, first);
        Assert.True(retries[0] > first && retries[1] > retries[0], string.Join(", ", retries));
        Assert.All(retries, delay => Assert.InRange(delay, NodeIdentity.RetryMin, NodeIdentity.RetryMax));
        Assert.Equal(NodeIdentity.RetryMax, retries[^1]);
    }

    [Fact]
    public void A_node_whose_id_reached_no_registry_polls_on_and_a_hold_from_its_bookmark_waits_for_the_telling()
    {
        var unheard = new NodeIdentity();
        unheard.Told(reached: false, out var pollNow);
        Assert.False(pollNow);
        Assert.True(unheard.MayPoll()); // no registry to answer: never held

        var fromBookmark = new NodeIdentity();
        fromBookmark.Hold(); // the start knows the id from the bookmark: its first poll waits for the move
        Assert.False(fromBookmark.MayPoll());
        fromBookmark.Told(reached: false, out pollNow);
        Assert.True(pollNow); // the telling went nowhere: the held poll goes on at once
        Assert.True(fromBookmark.MayPoll());
    }
}

/// <summary>A node's deadlines on its one timer: what is armed when, and what is due when it goes off.</summary>
public sealed class NodeDeadlineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Records what the deadlines arm: the timer's delays, in order.</summary>
    private sealed class RecordingTimers : Akka.Actor.ITimerScheduler
    {
        public readonly List<TimeSpan> Armed = [];
        public void StartSingleTimer(object key, object msg, TimeSpan timeout) => Armed.Add(timeout);
        public void StartSingleTimer(object key, object msg, TimeSpan timeout, Akka.Actor.IActorRef sender) => Armed.Add(timeout);
        public void StartPeriodicTimer(object key, object msg, TimeSpan interval) => throw new NotSupportedException();
        public void StartPeriodicTimer(object key, object msg, TimeSpan initialDelay, TimeSpan interval) => throw new NotSupportedException();
        public void StartPeriodicTimer(object key, object msg, TimeSpan interval, Akka.Actor.IActorRef sender) => throw new NotSupportedException();
        public void StartPeriodicTimer(object key, object msg, TimeSpan initialDelay, TimeSpan interval, Akka.Actor.IActorRef sender) => throw new NotSupportedException();
        public bool IsTimerActive(object key) => Armed.Count > 0;
        public void Cancel(object key) => throw new NotSupportedException();
        public void CancelAll() => throw new NotSupportedException();
        public IReadOnlyCollection<object> ActiveTimers => throw new NotSupportedException();
    }

    [Fact]
    public void One_timer_for_the_nearest_deadline_armed_again_only_when_a_deadline_comes_earlier()
    {
        var timers = new RecordingTimers();
        var deadlines = new NodeDeadlines(timers);

        // The slot in a minute, the silence check in 45: one timer, for the slot.
        deadlines.SetPoll(T0.AddMinutes(1), T0);
        deadlines.SetSilence(T0.AddMinutes(45), T0);
        Assert.Equal([TimeSpan.FromMinutes(1)], timers.Armed);
        Assert.Equal(T0.AddMinutes(1), deadlines.Poll);

        // The slot comes: only it is due. A poll is under way (held), a new line moves the silence check on and the
        // poll's end sets the next slot: one timer armed, for that slot.
        Assert.Equal(NodeDeadlines.Due.Poll, deadlines.WentOff(T0.AddMinutes(1)));
        Assert.Null(deadlines.Poll);
        deadlines.Hold();
        deadlines.Rearm(T0.AddMinutes(1));
        deadlines.SetSilence(T0.AddMinutes(46), T0.AddMinutes(1));
        deadlines.SetPoll(T0.AddMinutes(2), T0.AddMinutes(1));
        deadlines.Release(T0.AddMinutes(1));
        Assert.Equal([TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)], timers.Armed);

        // The node stops being polled on schedule: the timer armed for the slot goes off, finds nothing due and arms for
        // the silence check; then the check and a down check set meanwhile are both due at once.
        deadlines.ClearPoll();
        Assert.Equal(NodeDeadlines.Due.None, deadlines.WentOff(T0.AddMinutes(2)));
        deadlines.Rearm(T0.AddMinutes(2));
        Assert.Equal(TimeSpan.FromMinutes(44), timers.Armed[^1]);
        deadlines.SetDown(T0.AddMinutes(46), T0.AddMinutes(2));
        Assert.Equal(3, timers.Armed.Count);
        Assert.Equal(NodeDeadlines.Due.Silence | NodeDeadlines.Due.Down, deadlines.WentOff(T0.AddMinutes(46)));
        deadlines.Rearm(T0.AddMinutes(46));
        Assert.Equal(3, timers.Armed.Count); // nothing left: nothing armed
    }
}
