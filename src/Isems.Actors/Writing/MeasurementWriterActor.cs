using Akka.Actor;
using Akka.Event;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Writing;

public sealed record WriterOptions
{
    /// <summary>Most lines committed in one transaction.</summary>
    public int MaxBatchLines { get; init; } = 10_000;

    /// <summary>Most lines held while the database is away; beyond it, senders are told to come back later.</summary>
    public int MaxBufferedLines { get; init; } = 200_000;

    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The one writer of measurements. Lines from every node and the MQTT bridge are committed together: while a
/// transaction runs, new requests gather, and the next transaction takes them all (group commit), so a busy fleet
/// costs few large transactions and a quiet one gets its lines stored at once. When the database fails, the same
/// batch is retried with backoff while new lines wait in a bounded buffer. It never judges lines: that was the parser's.
/// </summary>
public sealed class MeasurementWriterActor : ReceiveActor, IWithTimers
{
    private sealed record Pending(WriteLines Request, IActorRef ReplyTo);
    private sealed record BatchCommitted(IReadOnlyList<Pending> Batch, IReadOnlyList<WriteOutcome> Outcomes, TimeSpan Took);
    private sealed record BatchFailed(IReadOnlyList<Pending> Batch, Exception Error);
    private sealed record RetryBatch(IReadOnlyList<Pending> Batch);
    private sealed record Deletion(DeleteNodeRows Request, IActorRef ReplyTo);
    private sealed record DeletionDone(Deletion Deletion, int Rows);
    private sealed record DeletionFailed(Deletion Deletion, Exception Error);
    private sealed record FlushBarrier(IActorRef ReplyTo);

    private readonly MeasurementStore _store;
    private readonly WriterOptions _options;
    private readonly CollectorMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // Writes, deletions and flushes in the order they came; a deletion runs alone, between two batches, and a flush is
    // answered when everything before it is done.
    private readonly Queue<object> _waiting = new();
    private int _waitingLines;
    private bool _committing;
    private int _failures;
    private DateTimeOffset? _failingSince;
    private string? _lastError;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(MeasurementStore store, WriterOptions options, CollectorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new MeasurementWriterActor(store, options, metrics ?? CollectorMetrics.None));

    public MeasurementWriterActor(MeasurementStore store, WriterOptions options, CollectorMetrics metrics)
    {
        _store = store;
        _options = options;
        _metrics = metrics;

        Receive<WriteLines>(request =>
        {
            if (request.Lines.Count == 0)
            {
                Sender.Tell(new LinesWritten(request.CorrelationId, new WriteOutcome(0, 0, [])));
                return;
            }
            if (_waitingLines + request.Lines.Count > _options.MaxBufferedLines)
            {
                Sender.Tell(new LinesNotWritten(request.CorrelationId,
                    $"the writer's buffer is full: {_waitingLines} lines wait for the database"));
                return;
            }
            _waiting.Enqueue(new Pending(request, Sender));
            _waitingLines += request.Lines.Count;
            _metrics.Buffered(_waitingLines);
            CommitNext();
        });

        Receive<BatchCommitted>(done =>
        {
            if (_failures > 0) _log.Info("Database writable again after {0} failed attempts", _failures);
            Recovered();
            _committing = false;
            _metrics.Committed(done.Batch.Sum(p => p.Request.Lines.Count), done.Outcomes.Sum(o => o.Stored),
                done.Outcomes.Sum(o => o.Duplicates), done.Took);
            // Published before the senders hear of it, so whoever they tell next never reads a history kept from before.
            var changed = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < done.Batch.Count; i++)
                if (done.Outcomes[i].Stored > 0)
                    foreach (var line in done.Batch[i].Request.Lines) changed.Add(line.NodeId);
            if (changed.Count > 0) Context.System.EventStream.Publish(new RowsChanged(changed));
            TraceCommit(done);
            for (var i = 0; i < done.Batch.Count; i++)
                done.Batch[i].ReplyTo.Tell(new LinesWritten(done.Batch[i].Request.CorrelationId, done.Outcomes[i]));
            CommitNext();
        });

        Receive<BatchFailed>(failed =>
        {
            Failed(failed.Error);
            var delay = RetryDelay();
            // The first failure and then every tenth: an outage of hours should not fill the log.
            if (_failures == 1 || _failures % 10 == 0)
                _log.Warning("Writing {0} lines failed ({1} attempts so far), retrying in {2:0.#} s: {3}",
                    failed.Batch.Sum(p => p.Request.Lines.Count), _failures, delay.TotalSeconds, failed.Error.Message);
            Timers.StartSingleTimer("retry", new RetryBatch(failed.Batch), delay);
        });

        Receive<RetryBatch>(retry => Commit(retry.Batch));

        Receive<DeleteNodeRows>(request =>
        {
            _waiting.Enqueue(new Deletion(request, Sender));
            CommitNext();
        });
        Receive<DeletionDone>(done =>
        {
            Recovered();
            _committing = false;
            _log.Info("Deleted {0} rows of node {1}", done.Rows, done.Deletion.Request.NodeId);
            Context.System.EventStream.Publish(new RowsChanged([done.Deletion.Request.NodeId]));
            done.Deletion.ReplyTo.Tell(new NodeRowsDeleted(done.Deletion.Request.NodeId, done.Deletion.Request.CorrelationId, done.Rows));
            CommitNext();
        });
        Receive<DeletionFailed>(failed =>
        {
            Failed(failed.Error);
            var delay = RetryDelay();
            _log.Warning("Deleting the rows of node {0} failed, retrying in {1:0.#} s: {2}",
                failed.Deletion.Request.NodeId, delay.TotalSeconds, failed.Error.Message);
            Timers.StartSingleTimer("retry", failed.Deletion, delay);
        });
        Receive<Deletion>(Delete);

        Receive<FlushWriter>(_ =>
        {
            _waiting.Enqueue(new FlushBarrier(Sender));
            CommitNext();
        });

        Receive<GetWriterStatus>(_ => Sender.Tell(new WriterStatus(_waitingLines, _failures, _failingSince, _lastError)));
    }

    private void Failed(Exception error)
    {
        if (_failures++ == 0) _failingSince = Context.System.Scheduler.Now;
        _lastError = error.Message;
        _metrics.CommitFailed();
    }

    private void Recovered()
    {
        _failures = 0;
        _failingSince = null;
        _lastError = null;
    }

    private void CommitNext()
    {
        while (!_committing && _waiting.TryPeek(out var head) && head is FlushBarrier flush)
        {
            _waiting.Dequeue();
            flush.ReplyTo.Tell(WriterFlushed.Instance);
        }
        if (_committing || _waiting.Count == 0) return;
        _committing = true;
        if (_waiting.Peek() is Deletion deletion)
        {
            _waiting.Dequeue();
            Delete(deletion);
            return;
        }
        var batch = new List<Pending>();
        var lines = 0;
        while (_waiting.TryPeek(out var head) && head is Pending next
               && (batch.Count == 0 || lines + next.Request.Lines.Count <= _options.MaxBatchLines))
        {
            _waiting.Dequeue();
            batch.Add(next);
            lines += next.Request.Lines.Count;
        }
        _waitingLines -= lines;
        _metrics.Buffered(_waitingLines);
        Commit(batch);
    }

    private void Delete(Deletion deletion)
    {
        var store = _store;
        Task.Run(() => store.DeleteNodeAsync(deletion.Request.NodeId, deletion.Request.NodeKey)).PipeTo(Self,
            success: rows => new DeletionDone(deletion, rows),
            failure: error => new DeletionFailed(deletion, error));
    }

    private void Commit(IReadOnlyList<Pending> batch)
    {
        var groups = batch.Select(p => p.Request.Lines).ToArray();
        var bookmarks = batch.Select(p => p.Request.Bookmark).OfType<LogBookmark>().ToArray();
        var store = _store;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // Task.Run: SQLite's driver does its I/O synchronously, and this actor's thread must stay free.
        Task.Run(() => store.WriteAsync(groups, bookmarks)).PipeTo(Self,
            success: outcomes => new BatchCommitted(batch, outcomes, System.Diagnostics.Stopwatch.GetElapsedTime(started)),
            failure: error => new BatchFailed(batch, error));
    }

    /// <summary>One commit span for each traced request of the batch, as a child of that request's span (a span has one parent).</summary>
    private static void TraceCommit(BatchCommitted done)
    {
        if (!CollectorTracing.Source.HasListeners()) return;
        var started = DateTimeOffset.UtcNow - done.Took;
        var lines = done.Batch.Sum(p => p.Request.Lines.Count);
        for (var i = 0; i < done.Batch.Count; i++)
        {
            var commit = CollectorTracing.Start("commit", done.Batch[i].Request.Trace, started);
            if (commit is null) continue;
            commit.SetTag("isems.batch.lines", lines);
            commit.SetTag("isems.lines.stored", done.Outcomes[i].Stored);
            commit.SetTag("isems.lines.duplicate", done.Outcomes[i].Duplicates);
            commit.End();
        }
    }

    private TimeSpan RetryDelay() => Backoff.Exponential(_options.MinRetryDelay, _options.MaxRetryDelay, _failures - 1);
}
