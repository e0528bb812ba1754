using Isems.Actors.Alerts;

namespace Isems.Actors.Polling;

/// <summary>How polled nodes are fetched. Built once from configuration at the edge and passed down.</summary>
public sealed record PollingOptions
{
    /// <summary>Time between two poll cycles of a node (the original's cron ran every 15 minutes).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(900);

    /// <summary>A whole fetch (connect, headers and body) must finish within this.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Further attempts within one cycle after a failed fetch.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>A node down for longer than this is tried less often...</summary>
    public TimeSpan SlowdownAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>...at most this many intervals apart, so dead nodes do not eat mesh airtime.</summary>
    public int MaxSlowdownFactor { get; init; } = 4;

    /// <summary>False for the one-shot <c>update-data</c> command: nodes poll only when told to.</summary>
    public bool Scheduled { get; init; } = true;

    /// <summary>Seeds the jitter of retries, so tests can pin it; nodes mix in their own key.</summary>
    public int JitterSeed { get; init; } = Environment.TickCount;

    /// <summary>A log larger than this is refused rather than held in memory (a router's full log is ~400 KB).</summary>
    public int MaxLogBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most polls in progress at once over all nodes (see <see cref="PollGate"/>).</summary>
    public int MaxConcurrentPolls { get; init; } = 32;

    /// <summary>
    /// The node actors are cluster-sharded entities (SPEC §9): one that stops for good passivates (else its shard
    /// starts it again), and one started anew goes on from the record the fleet's status has of it.
    /// </summary>
    public bool Sharded { get; init; }

    /// <summary>The alert rules' thresholds: the node's actor evaluates them beside its polls (see NodeAlerts).</summary>
    public AlertOptions Alerts { get; init; } = new();
}
