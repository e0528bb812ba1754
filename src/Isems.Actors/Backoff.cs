namespace Isems.Actors;

/// <summary>The backoff arithmetic shared by everything that retries: polls, writes, the broker link.</summary>
public static class Backoff
{
    /// <summary><paramref name="min"/> doubled <paramref name="doublings"/> times, never above <paramref name="max"/>.</summary>
    public static TimeSpan Exponential(TimeSpan min, TimeSpan max, int doublings)
    {
        var seconds = min.TotalSeconds * Math.Pow(2, Math.Clamp(doublings, 0, 16));
        return TimeSpan.FromSeconds(Math.Min(seconds, max.TotalSeconds));
    }

    /// <summary>"Equal jitter": half the delay fixed, half random, so peers that failed together do not retry together.</summary>
    public static TimeSpan EqualJitter(TimeSpan delay, Random random) => delay / 2 + random.NextDouble() * (delay / 2);
}
