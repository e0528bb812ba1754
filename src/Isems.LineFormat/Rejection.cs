namespace Isems.LineFormat;

/// <summary>Why a line was not stored. Each reason is counted on its own (SPEC §1).</summary>
public enum RejectReason
{
    FieldCount,
    NodeId,
    Number,
    Status,
    TimestampTooOld,
    TimestampInFuture,
}

public static class RejectReasons
{
    public static readonly IReadOnlyList<RejectReason> All = Enum.GetValues<RejectReason>();

    /// <summary>The reason as it appears in JSON and metric labels.</summary>
    public static string Label(this RejectReason reason) => reason switch
    {
        RejectReason.FieldCount => "field_count",
        RejectReason.NodeId => "node_id",
        RejectReason.Number => "number",
        RejectReason.Status => "status",
        RejectReason.TimestampTooOld => "timestamp_too_old",
        RejectReason.TimestampInFuture => "timestamp_in_future",
        _ => reason.ToString(),
    };
}

/// <summary>A rejected line's reason with the words an operator needs to find it.</summary>
public readonly record struct LineRejection(RejectReason Reason, string Message)
{
    public override string ToString() => $"{Reason.Label()}: {Message}";
}

/// <summary>Counts of rejected lines by reason. Immutable: adding returns a new value.</summary>
public sealed class RejectionCounts : IEquatable<RejectionCounts>
{
    private readonly int[] _counts;

    private RejectionCounts(int[] counts) => _counts = counts;

    public static readonly RejectionCounts None = new(new int[RejectReasons.All.Count]);

    public int Total => _counts.Sum();

    public int this[RejectReason reason] => _counts[(int)reason];

    public RejectionCounts Add(RejectReason reason, int count = 1)
    {
        var next = (int[])_counts.Clone();
        next[(int)reason] += count;
        return new RejectionCounts(next);
    }

    public RejectionCounts Add(RejectionCounts other)
    {
        if (other.Total == 0) return this;
        if (Total == 0) return other;
        var next = new int[_counts.Length];
        for (var i = 0; i < next.Length; i++) next[i] = _counts[i] + other._counts[i];
        return new RejectionCounts(next);
    }

    /// <summary>Only the reasons that occurred, keyed by their label.</summary>
    public IReadOnlyDictionary<string, int> ToDictionary() =>
        RejectReasons.All.Where(r => this[r] > 0).ToDictionary(r => r.Label(), r => this[r]);

    public bool Equals(RejectionCounts? other) => other is not null && _counts.AsSpan().SequenceEqual(other._counts);

    public override bool Equals(object? obj) => Equals(obj as RejectionCounts);

    public override int GetHashCode() => _counts.Aggregate(0, HashCode.Combine);

    public override string ToString() =>
        Total == 0 ? "none" : string.Join(", ", ToDictionary().Select(kv => $"{kv.Key}={kv.Value}"));
}

/// <summary>Collects rejection counts while a payload is parsed, without allocating per line.</summary>
public sealed class RejectionTally
{
    private readonly int[] _counts = new int[RejectReasons.All.Count];

    public void Add(RejectReason reason) => _counts[(int)reason]++;

    public RejectionCounts ToCounts()
    {
        var counts = RejectionCounts.None;
        foreach (var reason in RejectReasons.All)
            if (_counts[(int)reason] > 0) counts = counts.Add(reason, _counts[(int)reason]);
        return counts;
    }
}
