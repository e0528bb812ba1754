namespace Isems.Storage;

/// <summary>One bucket of a node's history: its start (Unix seconds) and the aggregate of its rows.</summary>
public sealed record HistoryPoint(long Start, Aggregate Aggregate);

/// <summary>
/// A node's history in buckets, oldest first. <paramref name="RawDeletedBefore"/> is set when part of the range lay
/// where retention had deleted the raw rows: before that instant (Unix seconds) the points come from the hourly
/// rollups, whole hours at their starts.
/// </summary>
public sealed record AggregatedHistory(HistoryBuckets Buckets, long? RawDeletedBefore)
{
    private IReadOnlyList<HistoryPoint>? _points;

    /// <summary>The buckets as objects, one each (tests, callers that keep them); the JSON reads <see cref="Buckets"/>.</summary>
    public IReadOnlyList<HistoryPoint> Points => _points ??= Buckets.ToPoints();
}

/// <summary>
/// Buckets of a node's history held column by column (starts, counts, status bits, and sum/min/max of every key in
/// flat arrays), filled as the rollup and raw rows are read: a year at 1 h is 8,760 buckets, and an object with three
/// arrays for each cost more than reading the rows. Rows arrive in time order, so a row's bucket is nearly always the
/// last one or a new one at the end.
/// </summary>
public sealed class HistoryBuckets
{
    private static readonly int Keys = Rollups.KeyCount;

    private long[] _start, _count;
    private int[] _status;
    private double[] _sum, _min, _max;

    public HistoryBuckets(int capacity = 16)
    {
        capacity = Math.Max(capacity, 1);
        _start = new long[capacity];
        _count = new long[capacity];
        _status = new int[capacity];
        _sum = new double[capacity * Keys];
        _min = new double[capacity * Keys];
        _max = new double[capacity * Keys];
    }

    /// <summary>How many buckets hold rows.</summary>
    public int Count { get; private set; }

    public long Start(int bucket) => _start[bucket];
    public long RowCount(int bucket) => _count[bucket];
    public int Status(int bucket) => _status[bucket];
    public ReadOnlySpan<double> Sum(int bucket) => _sum.AsSpan(bucket * Keys, Keys);
    public ReadOnlySpan<double> Min(int bucket) => _min.AsSpan(bucket * Keys, Keys);
    public ReadOnlySpan<double> Max(int bucket) => _max.AsSpan(bucket * Keys, Keys);

    /// <summary>
    /// The bucket that starts at <paramref name="start"/>, made (empty) when there is none; <paramref name="first"/>
    /// says it holds no rows yet, so that the caller's values are set rather than merged (as <see cref="Aggregate"/> does).
    /// </summary>
    internal int Slot(long start, out bool first)
    {
        var n = Count;
        if (n > 0 && _start[n - 1] == start)
        {
            first = _count[n - 1] == 0;
            return n - 1;
        }
        int at;
        if (n == 0 || _start[n - 1] < start) at = n;
        else
        {
            at = Array.BinarySearch(_start, 0, n, start);
            if (at >= 0)
            {
                first = _count[at] == 0;
                return at;
            }
            at = ~at;
        }
        if (n == _start.Length) Grow();
        if (at < n)
        {
            Array.Copy(_start, at, _start, at + 1, n - at);
            Array.Copy(_count, at, _count, at + 1, n - at);
            Array.Copy(_status, at, _status, at + 1, n - at);
            Array.Copy(_sum, at * Keys, _sum, (at + 1) * Keys, (n - at) * Keys);
            Array.Copy(_min, at * Keys, _min, (at + 1) * Keys, (n - at) * Keys);
            Array.Copy(_max, at * Keys, _max, (at + 1) * Keys, (n - at) * Keys);
        }
        _start[at] = start;
        _count[at] = 0;
        _status[at] = 0;
        Count = n + 1;
        first = true;
        return at;
    }

    /// <summary>Adds one key's sum, min and max of some rows to a bucket (set when it is the bucket's first).</summary>
    internal void Put(int bucket, int key, double sum, double min, double max, bool first)
    {
        var i = bucket * Keys + key;
        if (first)
        {
            _sum[i] = sum;
            _min[i] = min;
            _max[i] = max;
            return;
        }
        _sum[i] += sum;
        if (min < _min[i]) _min[i] = min;
        if (max > _max[i]) _max[i] = max;
    }

    /// <summary>Adds the count and status bits of the rows whose keys were just put.</summary>
    internal void Counted(int bucket, long count, int status)
    {
        _count[bucket] += count;
        _status[bucket] |= status;
    }

    /// <summary>Adds the buckets of <paramref name="later"/>, which all start after this one's last.</summary>
    internal void Append(HistoryBuckets later)
    {
        if (later.Count == 0) return;
        if (Count > 0 && later._start[0] <= _start[Count - 1])
            throw new ArgumentException("The buckets to append must start after these.", nameof(later));
        while (_start.Length < Count + later.Count) Grow();
        Array.Copy(later._start, 0, _start, Count, later.Count);
        Array.Copy(later._count, 0, _count, Count, later.Count);
        Array.Copy(later._status, 0, _status, Count, later.Count);
        Array.Copy(later._sum, 0, _sum, Count * Keys, later.Count * Keys);
        Array.Copy(later._min, 0, _min, Count * Keys, later.Count * Keys);
        Array.Copy(later._max, 0, _max, Count * Keys, later.Count * Keys);
        Count += later.Count;
    }

    private void Grow()
    {
        var capacity = _start.Length * 2;
        Array.Resize(ref _start, capacity);
        Array.Resize(ref _count, capacity);
        Array.Resize(ref _status, capacity);
        Array.Resize(ref _sum, capacity * Keys);
        Array.Resize(ref _min, capacity * Keys);
        Array.Resize(ref _max, capacity * Keys);
    }

    internal IReadOnlyList<HistoryPoint> ToPoints()
    {
        var points = new HistoryPoint[Count];
        for (var b = 0; b < Count; b++)
        {
            var aggregate = new Aggregate();
            aggregate.Merge(_count[b], _status[b], Sum(b), Min(b), Max(b));
            points[b] = new HistoryPoint(_start[b], aggregate);
        }
        return points;
    }
}
