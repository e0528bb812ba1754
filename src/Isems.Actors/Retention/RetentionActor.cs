using Akka.Actor;
using Akka.Event;
using Isems.Actors.Writing;
using Isems.Storage;

namespace Isems.Actors.Retention;

public sealed record RetentionOptions
{
    /// <summary>Rows older than this are deleted (RETENTION_DAYS); null keeps every age.</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>Each node keeps its newest this many rows (RETENTION_ROWS_PER_NODE); null keeps every row.</summary>
    public int? RowsPerNode { get; init; }

    /// <summary>
    /// Hourly and daily rollups older than this are deleted (RETENTION_ROLLUP_DAYS); null keeps them however old, so
    /// history stays answerable in hours long after the raw rows went.
    /// </summary>
    public TimeSpan? RollupMaxAge { get; init; }

    /// <summary>How often retention runs; the first run is this long after start, so a start is never slowed by it.</summary>
    public TimeSpan Every { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Most rows one delete takes: one short transaction, so the writer never waits long for SQLite's lock.</summary>
    public int BatchRows { get; init; } = 1_000;

    /// <summary>The pause between two batches, in which the writer has the database to itself.</summary>
    public TimeSpan PauseBetweenBatches { get; init; } = TimeSpan.FromMilliseconds(200);

    public bool Enabled => MaxAge is not null || RowsPerNode is not null || RollupMaxAge is not null;
}

/// <summary>Answered with a <see cref="RetentionStatus"/>.</summary>
public sealed record GetRetentionStatus
{
    public static readonly GetRetentionStatus Instance = new();
}

public sealed record RetentionStatus(bool Running, DateTimeOffset? LastRunEnded, long DeletedByAge, long DeletedBeyondRowsPerNode, string? LastError)
{
    /// <summary>Hourly and daily rollups deleted for being older than RETENTION_ROLLUP_DAYS.</summary>
    public long DeletedRollups { get; init; }
}

/// <summary>
/// Keeps the database to the size operators asked for: on a timer, deletes rows older than the maximum age, then each
/// node's rows beyond the newest N, in small batches with pauses between, so lines keep being stored meanwhile.
/// A failed batch (the database is away) ends the run; the next run starts over, as nothing is lost by waiting.
/// </summary>
public sealed class RetentionActor : ReceiveActor, IWithTimers
{
    private enum Phase { ByAge, PerNode, Rollups }

    private sealed record RunNow;
    private sealed record NextBatch;
    private sealed record BatchDeleted(int Rows);
    private sealed record BatchFailed(Exception Error);

    private readonly MeasurementStore _store;
    private readonly RetentionOptions _options;
    private readonly CollectorMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private Phase _phase;
    private long _cutoff, _rollupCutoff;
    private long _runByAge, _runPerNode, _runRollups, _totalByAge, _totalPerNode, _totalRollups;
    private DateTimeOffset? _lastRunEnded;
    private string? _lastError;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(MeasurementStore store, RetentionOptions options, CollectorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new RetentionActor(store, options, metrics ?? CollectorMetrics.None));

    public RetentionActor(MeasurementStore store, RetentionOptions options, CollectorMetrics metrics)
    {
        _store = store;
        _options = options;
        _metrics = metrics;
        Idle();
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("run", new RunNow(), _options.Every);

    private void Idle()
    {
        Receive<RunNow>(_ =>
        {
            _runByAge = _runPerNode = _runRollups = 0;
            _phase = _options.MaxAge is not null ? Phase.ByAge : _options.RowsPerNode is not null ? Phase.PerNode : Phase.Rollups;
            if (_options.MaxAge is { } age) _cutoff = (Now - age).ToUnixTimeSeconds();
            if (_options.RollupMaxAge is { } rollupAge) _rollupCutoff = (Now - rollupAge).ToUnixTimeSeconds();
            Become(Running);
            DeleteBatch();
        });
        Receive<GetRetentionStatus>(_ => Sender.Tell(Status(running: false)));
    }

    private void Running()
    {
        Receive<RunNow>(_ => { }); // a run that takes longer than the period just goes on
        Receive<NextBatch>(_ => DeleteBatch());
        Receive<BatchDeleted>(deleted =>
        {
            switch (_phase)
            {
                case Phase.ByAge:
                    _runByAge += deleted.Rows;
                    _metrics.RetentionDeleted("age", deleted.Rows);
                    break;
                case Phase.PerNode:
                    _runPerNode += deleted.Rows;
                    _metrics.RetentionDeleted("rows_per_node", deleted.Rows);
                    break;
                default:
                    _runRollups += deleted.Rows;
                    _metrics.RetentionDeleted("rollup_age", deleted.Rows);
                    break;
            }

            if (deleted.Rows > 0)
            {
                // Which nodes lost rows is not known here: everything built from stored rows is out of date.
                Context.System.EventStream.Publish(new RowsChanged(null));
                Timers.StartSingleTimer("batch", new NextBatch(), _options.PauseBetweenBatches);
            }
            else if (_phase == Phase.ByAge && _options.RowsPerNode is not null)
            {
                _phase = Phase.PerNode;
                DeleteBatch();
            }
            else if (_phase != Phase.Rollups && _options.RollupMaxAge is not null)
            {
                _phase = Phase.Rollups;
                DeleteBatch();
            }
            else Finish(null);
        });
        Receive<BatchFailed>(failed => Finish(failed.Error.Message));
        Receive<GetRetentionStatus>(_ => Sender.Tell(Status(running: true)));
    }

    private void DeleteBatch()
    {
        var (store, batch, cutoff, keep, rollupCutoff) = (_store, _options.BatchRows, _cutoff, _options.RowsPerNode ?? 0, _rollupCutoff);
        Task<int> delete = _phase switch
        {
            Phase.ByAge => Task.Run(() => store.DeleteOlderThanAsync(cutoff, batch)),
            Phase.PerNode => Task.Run(() => store.TrimPerNodeAsync(keep, batch)),
            _ => Task.Run(() => store.DeleteRollupsOlderThanAsync(rollupCutoff, batch)),
        };
        delete.PipeTo(Self, success: rows => new BatchDeleted(rows), failure: error => new BatchFailed(error));
    }

    private void Finish(string? error)
    {
        _totalByAge += _runByAge;
        _totalPerNode += _runPerNode;
        _totalRollups += _runRollups;
        _lastRunEnded = Now;
        _lastError = error;
        if (error is not null)
            _log.Warning("Retention stopped after deleting {0} rows; it runs again in {1}: {2}", _runByAge + _runPerNode, _options.Every, error);
        else if (_runByAge + _runPerNode + _runRollups > 0)
            _log.Info("Retention deleted {0} rows older than {1:0.#} days, {2} rows beyond {3} per node (their hourly and daily rollups kept) and {4} rollups older than {5:0.#} days",
                _runByAge, _options.MaxAge?.TotalDays ?? 0, _runPerNode, _options.RowsPerNode?.ToString() ?? "-",
                _runRollups, _options.RollupMaxAge?.TotalDays ?? 0);
        Become(Idle);
    }

    private RetentionStatus Status(bool running) =>
        new(running, _lastRunEnded, _totalByAge, _totalPerNode, _lastError) { DeletedRollups = _totalRollups };

    private DateTimeOffset Now => Context.System.Scheduler.Now;
}
