using System.Text;

namespace Isems.Actors.Polling;

/// <summary>
/// The arithmetic of a node's polling: when its cycles start, how long to wait before a retry, and how much a
/// long-dead node slows down. Pure functions of their inputs, so the schedule is the same on every start.
/// </summary>
public static class PollSchedule
{
    /// <summary>
    /// Where in the interval this node's cycles start, spread evenly and deterministically by its key
    /// (as Prometheus spreads scrapes), so a thousand nodes are not fetched in the same second.
    /// </summary>
    public static TimeSpan Phase(string nodeKey, TimeSpan interval)
    {
        var ticks = interval.Ticks;
        return ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)(StableHash(nodeKey) % (ulong)ticks));
    }

    /// <summary>The delay from <paramref name="now"/> to this node's next phase slot.</summary>
    public static TimeSpan UntilNextSlot(string nodeKey, TimeSpan interval, DateTimeOffset now)
    {
        var phase = Phase(nodeKey, interval).Ticks;
        var intoInterval = now.UtcTicks % interval.Ticks;
        var wait = phase - intoInterval;
        return TimeSpan.FromTicks(wait >= 0 ? wait : wait + interval.Ticks);
    }

    /// <summary>
    /// The wait before retry <paramref name="attempt"/> (1-based) within a cycle: exponential from a base that is a
    /// thirtieth of the interval (1 s..30 s), capped at a quarter of the interval so every retry fits in the cycle,
    /// with "equal jitter" (half fixed, half random) so nodes that failed together do not retry together.
    /// </summary>
    public static TimeSpan RetryDelay(int attempt, TimeSpan interval, Random random)
    {
        var baseDelay = TimeSpan.FromSeconds(Math.Clamp(interval.TotalSeconds / 30, 1, 30));
        return Backoff.EqualJitter(Backoff.Exponential(baseDelay, interval / 4, attempt - 1), random);
    }

    /// <summary>
    /// How many intervals apart the cycles of a node are: 1 while it is up or has been down for less than
    /// <see cref="PollingOptions.SlowdownAfter"/>, then doubling for every further such span, up to the cap.
    /// </summary>
    public static int SlowdownFactor(TimeSpan downFor, PollingOptions options)
    {
        if (downFor < options.SlowdownAfter || options.SlowdownAfter <= TimeSpan.Zero) return 1;
        var spans = (int)Math.Min(downFor / options.SlowdownAfter, 30);
        return (int)Math.Min(1L << spans, Math.Max(1, options.MaxSlowdownFactor));
    }

    /// <summary>FNV-1a over the key's UTF-8 bytes: unlike string.GetHashCode, the same on every run.</summary>
    public static ulong StableHash(string key)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }
}
