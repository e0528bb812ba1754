using System.Diagnostics.Metrics;
using Isems.LineFormat;

namespace Isems.Actors;

/// <summary>
/// The collector's own measurements of itself, as .NET metrics instruments. The actors record into them as things
/// happen (nothing reads actor state from outside); the host exports them at <c>/metrics</c>. One instance per host,
/// from the host's <see cref="IMeterFactory"/>, so two collectors in one process (tests) never mix their figures.
/// Every label has a small fixed set of values: no per-node series, whose number would grow with the fleet.
/// </summary>
public sealed class CollectorMetrics
{
    public const string MeterName = "Isems.Collector";

    /// <summary>For actors created without a host (tests): instruments nobody listens to.</summary>
    public static CollectorMetrics None { get; } = new(new Meter(MeterName + ".Unobserved"));

    private readonly Counter<long> _polls, _lines, _writeFailures, _retentionDeleted, _alertsNotDelivered;
    private readonly Histogram<int> _batchLines;
    private readonly Histogram<double> _commitSeconds;
    private readonly Gauge<int> _bufferedLines;

    public CollectorMetrics(IMeterFactory factory) : this(factory.Create(MeterName))
    {
    }

    public CollectorMetrics(Meter meter)
    {
        _polls = meter.CreateCounter<long>("isems_polls", description: "Polls of node logs, by result");
        _alertsNotDelivered = meter.CreateCounter<long>("isems_alert_deliveries_failed",
            description: "Alerts a delivery gave up on after its retries, by target (Alertmanager's are sent again each minute)");
        _lines = meter.CreateCounter<long>("isems_lines",
            description: "Lines received, by outcome (stored, duplicate, rejected) and, when rejected, reason");
        _writeFailures = meter.CreateCounter<long>("isems_write_failures", description: "Failed database commits (each is retried)");
        _batchLines = meter.CreateHistogram<int>("isems_write_batch_lines", description: "Lines per database commit",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 10, 100, 1_000, 5_000, 10_000] });
        _commitSeconds = meter.CreateHistogram<double>("isems_write_commit_seconds", unit: "s",
            description: "Time a database commit took",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10] });
        _bufferedLines = meter.CreateGauge<int>("isems_writer_buffered_lines", description: "Lines waiting for the database");
        _retentionDeleted = meter.CreateCounter<long>("isems_retention_deleted_rows",
            description: "Rows deleted by retention, by rule (age, rows_per_node)");
    }

    /// <summary><paramref name="result"/>: success, failure or no_log (a 404: the log rotated away).</summary>
    public void AlertsNotDelivered(string target, int alerts) =>
        _alertsNotDelivered.Add(alerts, new KeyValuePair<string, object?>("target", target));

    public void Poll(string result) => _polls.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Committed(int lines, int stored, int duplicates, TimeSpan took)
    {
        _batchLines.Record(lines);
        _commitSeconds.Record(took.TotalSeconds);
        if (stored > 0) _lines.Add(stored, new KeyValuePair<string, object?>("outcome", "stored"));
        if (duplicates > 0) _lines.Add(duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
    }

    public void CommitFailed() => _writeFailures.Add(1);

    public void Rejected(RejectionCounts rejected)
    {
        if (rejected.Total == 0) return;
        foreach (var (reason, count) in rejected.ToDictionary())
            _lines.Add(count, new KeyValuePair<string, object?>("outcome", "rejected"), new KeyValuePair<string, object?>("reason", reason));
    }

    public void Buffered(int lines) => _bufferedLines.Record(lines);

    public void RetentionDeleted(string rule, int rows)
    {
        if (rows > 0) _retentionDeleted.Add(rows, new KeyValuePair<string, object?>("rule", rule));
    }
}
