using Akka.Actor;
using Isems.Actors.Writing;
using Isems.LineFormat;

namespace Isems.Actors.Nodes;

/// <summary>
/// A node's pushed lines on their way to the database, so that each goes there once: an ESP payload repeats the 4
/// lines before its newest, so without this four in five pushed lines would go to the database only to be found
/// duplicates. A line whose write was committed is answered as a duplicate at once (a row is never taken back; the
/// newest few per node are remembered); a line whose write is under way is waited for, and if that write fails, every
/// payload waiting on it is told so and offered again by its sender. Owned by the node's actor, and made only once the
/// node pushes: a polled router never needs it.
/// </summary>
internal sealed class PushedLines(string nodeKey)
{
    private const int RememberedLines = 32;

    private sealed class Payload(IActorRef replyTo, long tag, int duplicates)
    {
        public IActorRef ReplyTo { get; } = replyTo;
        public long Tag { get; } = tag;
        public int Stored { get; set; }
        public int Duplicates { get; set; } = duplicates;
        public int AwaitedWrites { get; set; }
        public bool Failed { get; set; }
    }

    private sealed record Write(IReadOnlyList<Measurement> Lines, Payload Owner, List<Payload> Waiting);

    private readonly Dictionary<long, Write> _writes = [];
    private readonly Dictionary<(string NodeId, long Timestamp), long> _linesBeingWritten = [];
    private readonly HashSet<(string NodeId, long Timestamp)> _committed = [];
    private readonly Queue<(string NodeId, long Timestamp)> _committedOrder = new();

    /// <summary>
    /// However long a node keeps a write under way (a backlog drained without a pause), its status is told at least
    /// this often.
    /// </summary>
    public static readonly TimeSpan StatusEvery = TimeSpan.FromSeconds(1);

    private DateTimeOffset _statusToldAt;

    /// <summary>
    /// Whether the node's status should be told now, after its pushed lines were answered: once no write of them is
    /// under way (the last answer of a burst tells what the earlier ones changed), or when it was last told
    /// <see cref="StatusEvery"/> ago or more. A node pushing once a minute is told after each payload, as before.
    /// </summary>
    public bool StatusDue(DateTimeOffset now)
    {
        if (_writes.Count > 0 && now - _statusToldAt < StatusEvery) return false;
        _statusToldAt = now;
        return true;
    }

    /// <summary>Whether the write with this correlation id is one of these.</summary>
    public bool IsWriting(long correlationId) => _writes.ContainsKey(correlationId);

    /// <summary>
    /// Takes a payload: answers it at once when all its lines are known to be stored, waits with it on writes under way,
    /// and returns the request for its new lines, if any, to send to the writer. <paramref name="duplicates"/>: lines
    /// already stored or being stored.
    /// </summary>
    public WriteLines? Accept(IngestLines ingest, IActorRef replyTo, long correlationId, out int duplicates)
    {
        var fresh = new List<Measurement>(ingest.Lines.Count);
        var awaited = new HashSet<long>();
        duplicates = 0;
        foreach (var line in ingest.Lines)
        {
            if (_committed.Contains((line.NodeId, line.Timestamp))) duplicates++;
            else if (_linesBeingWritten.TryGetValue((line.NodeId, line.Timestamp), out var correlation))
            {
                duplicates++;
                awaited.Add(correlation);
            }
            else fresh.Add(line);
        }
        if (fresh.Count == 0 && awaited.Count == 0)
        {
            replyTo.Tell(new LinesIngested(nodeKey, ingest.Tag, 0, duplicates));
            return null;
        }

        var payload = new Payload(replyTo, ingest.Tag, duplicates) { AwaitedWrites = awaited.Count };
        foreach (var correlation in awaited) _writes[correlation].Waiting.Add(payload);
        if (fresh.Count == 0) return null;
        payload.AwaitedWrites++;
        _writes[correlationId] = new Write(fresh, payload, [payload]);
        foreach (var line in fresh) _linesBeingWritten[(line.NodeId, line.Timestamp)] = correlationId;
        return new WriteLines(fresh, correlationId);
    }

    /// <summary>A write was committed: its lines are remembered, and every payload that has nothing left to wait for is answered.</summary>
    public IReadOnlyList<Measurement> Written(LinesWritten written)
    {
        _writes.Remove(written.CorrelationId, out var write);
        Forget(write!, written.CorrelationId);
        foreach (var line in write!.Lines)
        {
            if (!_committed.Add((line.NodeId, line.Timestamp))) continue;
            _committedOrder.Enqueue((line.NodeId, line.Timestamp));
            if (_committedOrder.Count > RememberedLines) _committed.Remove(_committedOrder.Dequeue());
        }
        write.Owner.Stored += written.Outcome.Stored;
        write.Owner.Duplicates += written.Outcome.Duplicates;
        foreach (var payload in write.Waiting)
        {
            if (--payload.AwaitedWrites > 0 || payload.Failed) continue;
            payload.ReplyTo.Tell(new LinesIngested(nodeKey, payload.Tag, payload.Stored, payload.Duplicates));
        }
        return write.Lines;
    }

    /// <summary>A write failed: every payload waiting on it is told, and offered again by its sender.</summary>
    public void NotWritten(LinesNotWritten failed)
    {
        _writes.Remove(failed.CorrelationId, out var write);
        Forget(write!, failed.CorrelationId);
        Fail(write!, failed.Reason);
    }

    /// <summary>Every payload still waiting is told it failed (the node's data moved to another actor).</summary>
    public void FailAll(string reason)
    {
        foreach (var write in _writes.Values) Fail(write, reason);
    }

    private void Fail(Write write, string reason)
    {
        foreach (var payload in write.Waiting.Where(p => !p.Failed))
        {
            payload.Failed = true;
            payload.ReplyTo.Tell(new LinesNotIngested(nodeKey, payload.Tag, reason));
        }
    }

    private void Forget(Write write, long correlationId)
    {
        foreach (var line in write.Lines)
            if (_linesBeingWritten.TryGetValue((line.NodeId, line.Timestamp), out var c) && c == correlationId)
                _linesBeingWritten.Remove((line.NodeId, line.Timestamp));
    }
}
