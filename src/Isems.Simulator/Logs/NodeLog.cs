namespace Isems.Simulator.Logs;

/// <summary>
/// What a node keeps of its lines and serves. Not thread-safe: the owning node serialises access. The bytes handed
/// out by <see cref="Content"/> are never written again, so a response may send them after the lock is released
/// while later appends go on.
/// </summary>
internal abstract class NodeLog
{
    public abstract int GoodLineCount { get; }

    /// <summary>The bytes the node serves now; empty when it has nothing to serve.</summary>
    public abstract ReadOnlyMemory<byte> Content { get; }

    /// <summary>Of <paramref name="appended"/> lines about to be appended, how many will still be in the log after.</summary>
    public abstract int Survivors(int appended);

    /// <summary>Makes room for <paramref name="lines"/> lines of about <paramref name="bytesPerLine"/> bytes.</summary>
    public virtual void Reserve(int lines, int bytesPerLine) { }

    public abstract void Add(ReadOnlySpan<byte> line, bool good);

    public abstract void Clear();

    public abstract IReadOnlyList<string> Lines();
}
