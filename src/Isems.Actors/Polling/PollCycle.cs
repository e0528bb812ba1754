namespace Isems.Actors.Polling;

/// <summary>What a node does after an attempt ends.</summary>
public enum PollStep
{
    /// <summary>Nothing on schedule (not polled on schedule: disabled, no log URL, or a one-shot run).</summary>
    None,

    /// <summary>Try again within this cycle, after <see cref="PollCycle.RetryDelay"/>.</summary>
    Retry,

    /// <summary>Wait for the node's next slot; the cycle succeeded, or the node was reached and had nothing.</summary>
    NextCycle,

    /// <summary>The retries of this cycle are spent: the node is down, and waits for its next (slowed) slot.</summary>
    GiveUp,
}

/// <summary>
/// One node's poll cycle as plain state, on top of <see cref="PollSchedule"/>: the node's interval and timeout, which
/// attempt of the cycle is running, and what comes after an attempt (a retry with backoff and jitter, the next slot,
/// or giving up for this cycle). No Akka and no clock: the actor arms the timers it decides, and a test can pin the
/// jitter through <see cref="PollingOptions.JitterSeed"/>.
/// </summary>
public sealed class PollCycle(string nodeKey, PollingOptions options)
{
    private int _attempt;
    private Random? _jitter; // made on the first retry: most nodes never need one

    public TimeSpan Interval { get; private set; } = options.Interval;
    public TimeSpan Timeout { get; private set; } = options.Timeout;

    /// <summary>A fetch is under way (from the gate to the writer's answer).</summary>
    public bool Fetching { get; private set; }

    /// <summary>The wait before the retry that <see cref="Ended"/> last decided.</summary>
    public TimeSpan RetryDelay { get; private set; }

    /// <summary>The node's own interval and timeout; null keeps the collector's defaults.</summary>
    public void Configure(TimeSpan? interval, TimeSpan? timeout)
    {
        Interval = interval ?? options.Interval;
        Timeout = timeout ?? options.Timeout;
    }

    /// <summary>The schedule's timer fired: the next attempt of the running cycle, or the first of a new one.</summary>
    public void Ticked() => _attempt = _attempt == 0 ? 1 : _attempt + 1;

    /// <summary>A cycle starts now, not at the node's slot (a node an operator just added).</summary>
    public void StartsNow() => _attempt = 1;

    public void Began() => Fetching = true;

    /// <summary>
    /// An attempt ended. <paramref name="nodeFailed"/>: the node did not answer as it should (a database away is not
    /// the node's failure). <paramref name="onSchedule"/>: the node is polled on schedule. A poll asked for by hand
    /// (attempt 0) is never retried.
    /// </summary>
    public PollStep Ended(bool succeeded, bool nodeFailed, bool onSchedule)
    {
        Fetching = false;
        if (succeeded) _attempt = 0;
        if (!onSchedule) return PollStep.None;
        if (!succeeded && nodeFailed && _attempt is > 0 && _attempt <= options.Retries)
        {
            _jitter ??= new Random(options.JitterSeed ^ (int)PollSchedule.StableHash(nodeKey));
            RetryDelay = PollSchedule.RetryDelay(_attempt, Interval, _jitter);
            return PollStep.Retry;
        }
        _attempt = 0;
        return !succeeded && nodeFailed ? PollStep.GiveUp : PollStep.NextCycle;
    }

    /// <summary>Until the node's next slot; a node down for <paramref name="downFor"/> skips slots (SlowdownFactor).</summary>
    public TimeSpan UntilNextCycle(DateTimeOffset now, TimeSpan downFor)
    {
        var slowdown = downFor > TimeSpan.Zero ? PollSchedule.SlowdownFactor(downFor, options) : 1;
        return PollSchedule.UntilNextSlot(nodeKey, Interval, now) + (slowdown - 1) * Interval;
    }
}
