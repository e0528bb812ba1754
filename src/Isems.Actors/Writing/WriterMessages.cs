using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Writing;

// The writer's messages: to the MeasurementWriterActor (commands) and its answers (events), then the row versions'.

/// <summary>Store these lines; the sender is told what became of them.</summary>
/// <param name="Bookmark">Where the lines' log has been read up to: saved in the same transaction as the lines.</param>
/// <remarks><paramref name="Trace"/>: the span the lines belong to (a poll's write), so their commit is its child.</remarks>
public sealed record WriteLines(IReadOnlyList<Measurement> Lines, long CorrelationId, LogBookmark? Bookmark = null,
    System.Diagnostics.ActivityContext Trace = default);

/// <summary>The lines are in the database: how many were new, how many already there, and each node's newest row.</summary>
public sealed record LinesWritten(long CorrelationId, WriteOutcome Outcome);

/// <summary>The lines were not stored (the database has been away long enough for the buffer to fill); send them again later.</summary>
public sealed record LinesNotWritten(long CorrelationId, string Reason);

/// <summary>
/// Delete every stored row of this node (an operator purged it). Runs after every line queued before it, so a line of
/// the node that was on its way is deleted too; answered with <see cref="NodeRowsDeleted"/>, retried like a write.
/// </summary>
public sealed record DeleteNodeRows(string NodeId, long CorrelationId, string? NodeKey = null);

public sealed record NodeRowsDeleted(string NodeId, long CorrelationId, int Rows);

/// <summary>
/// Answered with <see cref="WriterFlushed"/> once every line sent before it is committed: a graceful stop waits for
/// this, so what was received is in the database before the process ends.
/// </summary>
public sealed record FlushWriter
{
    public static readonly FlushWriter Instance = new();
}

public sealed record WriterFlushed
{
    public static readonly WriterFlushed Instance = new();
}

/// <summary>Answered with a <see cref="WriterStatus"/>: is the database taking lines?</summary>
public sealed record GetWriterStatus
{
    public static readonly GetWriterStatus Instance = new();
}

public sealed record WriterStatus(int BufferedLines, int ConsecutiveFailures, DateTimeOffset? FailingSince, string? LastError)
{
    public bool Failing => ConsecutiveFailures > 0;
}

// Row versions (RowVersionsActor)

/// <summary>
/// Rows of these nodes were stored or deleted (null: of any node, as retention may touch all). Published on the event
/// stream by whoever changed them, once the change is committed.
/// </summary>
public sealed record RowsChanged(IReadOnlyCollection<string>? NodeIds);

/// <summary>Answered with a <see cref="RowVersion"/>.</summary>
public sealed record GetRowVersion(string NodeId);

/// <summary>Changes whenever the node's stored rows may have: what was built from them before is out of date.</summary>
public sealed record RowVersion(string NodeId, long Epoch, long Version);
