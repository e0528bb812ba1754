using System.Globalization;
using System.Text;
using Isems.LineFormat;

namespace Isems.Storage;

/// <summary>
/// The per-node hourly and daily rollups (count, OR of the status bits, and sum, min and max of each numeric key) that
/// let a long range be answered without reading its raw rows (SPEC §6). They are kept by the writers in the same
/// transaction as the rows they summarise, and survive retention of the raw rows.
/// </summary>
public static class Rollups
{
    public const int Hour = 3600;
    public const int Day = 86_400;

    /// <summary>The numeric keys aggregated (SPEC §6), in the API's names, in this order everywhere.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "timeToShutdown", "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate",
        "batteryHealthEstimate", "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage",
    ];

    internal static readonly string[] Columns =
    [
        "time_to_shutdown", "open_circuit_voltage", "mpp_voltage", "battery_voltage", "battery_charge_estimate",
        "battery_health_estimate", "battery_temperature", "low_voltage_disconnect_voltage", "temperature_corrected_voltage",
    ];

    public static int KeyCount => Columns.Length;

    internal static double Value(Measurement m, int key) => key switch
    {
        0 => m.TimeToShutdown,
        1 => m.OpenCircuitVoltage,
        2 => m.MppVoltage,
        3 => m.BatteryVoltage,
        4 => m.BatteryChargeEstimate,
        5 => m.BatteryHealthEstimate,
        6 => m.BatteryTemperature,
        7 => m.LowVoltageDisconnectVoltage,
        8 => m.TemperatureCorrectedVoltage,
        _ => throw new ArgumentOutOfRangeException(nameof(key)),
    };

    internal const string Table = "measurement_rollups";
    internal const string HorizonTable = "raw_horizons";

    /// <summary>count, status, then sum_, min_, max_ of each key: the columns after (node_id, period, start).</summary>
    internal static readonly string AggregateColumns = "count, status, " + string.Join(", ",
        Columns.SelectMany(c => new[] { "sum_" + c, "min_" + c, "max_" + c }));

    /// <summary>The status is up to 7 hex digits (28 bits); SQLite has no bitwise OR aggregate, so it is built bit by bit.</summary>
    private static string StatusOr(DatabaseKind kind) => kind == DatabaseKind.PostgreSql
        ? "COALESCE(bit_or(status), 0)"
        : string.Join(" | ", Enumerable.Range(0, 28).Select(b => $"COALESCE(MAX(status & {1 << b}), 0)"));

    internal static string Aggregates(DatabaseKind kind) => "COUNT(*), " + StatusOr(kind) + ", " + string.Join(", ",
        Columns.SelectMany(c => new[] { $"SUM({c})", $"MIN({c})", $"MAX({c})" }));

    internal static string CreateSql(DatabaseKind kind)
    {
        var text = kind == DatabaseKind.Sqlite ? "TEXT" : "text COLLATE \"C\"";
        var dbl = kind == DatabaseKind.Sqlite ? "DOUBLE" : "double precision";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"CREATE TABLE {Table} (node_id {text} NOT NULL, period INTEGER NOT NULL, start BIGINT NOT NULL, ");
        sb.Append("count BIGINT NOT NULL, status INTEGER NOT NULL, ");
        foreach (var c in Columns) sb.Append(CultureInfo.InvariantCulture, $"sum_{c} {dbl} NOT NULL, min_{c} {dbl} NOT NULL, max_{c} {dbl} NOT NULL, ");
        sb.Append("PRIMARY KEY (node_id, period, start))");
        if (kind == DatabaseKind.Sqlite) sb.Append(" WITHOUT ROWID");
        sb.Append(";\n");
        sb.Append(CultureInfo.InvariantCulture, $"CREATE TABLE {HorizonTable} (node_id {text} NOT NULL PRIMARY KEY, deleted_through BIGINT NOT NULL);\n");
        return sb.ToString();
    }

    /// <summary>
    /// The rollups of the rows already stored, as SQL: PostgreSQL's migration step 5 (SQLite's is
    /// <see cref="RollupBuilder"/>, which builds the same rows in one pass without sorting them).
    /// </summary>
    internal static string BuildSql(DatabaseKind kind)
    {
        var sb = new StringBuilder();
        foreach (var period in new[] { Hour, Day })
            sb.Append(CultureInfo.InvariantCulture,
                $"INSERT INTO {Table} (node_id, period, start, {AggregateColumns}) SELECT node_id, {period}, timestamp / {period} * {period}, {Aggregates(kind)} " +
                $"FROM {Schema.Table} GROUP BY node_id, timestamp / {period} * {period};\n");
        return sb.ToString();
    }

    /// <summary>Adds one aggregate to the stored one, or stores it (SQLite and PostgreSQL alike).</summary>
    internal static string UpsertSql(DatabaseKind kind, Func<string, string> parameter)
    {
        var min = kind == DatabaseKind.Sqlite ? "MIN" : "LEAST";
        var max = kind == DatabaseKind.Sqlite ? "MAX" : "GREATEST";
        var names = new List<string> { "node_id", "period", "start", "count", "status" };
        foreach (var c in Columns) names.AddRange(["sum_" + c, "min_" + c, "max_" + c]);
        var sets = new List<string> { $"count = {Table}.count + excluded.count", $"status = {Table}.status | excluded.status" };
        foreach (var c in Columns)
        {
            sets.Add($"sum_{c} = {Table}.sum_{c} + excluded.sum_{c}");
            sets.Add($"min_{c} = {min}({Table}.min_{c}, excluded.min_{c})");
            sets.Add($"max_{c} = {max}({Table}.max_{c}, excluded.max_{c})");
        }
        return $"INSERT INTO {Table} ({string.Join(", ", names)}) VALUES ({string.Join(", ", names.Select(parameter))}) " +
               $"ON CONFLICT (node_id, period, start) DO UPDATE SET {string.Join(", ", sets)}";
    }

    internal static IEnumerable<string> ParameterNames()
    {
        yield return "node_id";
        yield return "period";
        yield return "start";
        yield return "count";
        yield return "status";
        foreach (var c in Columns)
        {
            yield return "sum_" + c;
            yield return "min_" + c;
            yield return "max_" + c;
        }
    }

    /// <summary>Raises the node's horizon: its raw rows at or before <c>deleted_through</c> may be gone.</summary>
    internal static string RaiseHorizonSql(DatabaseKind kind) =>
        $"INSERT INTO {HorizonTable} (node_id, deleted_through) VALUES (@node, @through) ON CONFLICT (node_id) DO UPDATE SET " +
        $"deleted_through = {(kind == DatabaseKind.Sqlite ? "MAX" : "GREATEST")}({HorizonTable}.deleted_through, excluded.deleted_through)";

    public static long AlignDown(long t, long size) => t - (((t % size) + size) % size);

    public static long AlignUp(long t, long size) => AlignDown(t + size - 1, size);
}

/// <summary>Count, OR of the status bits, and sum/min/max of each numeric key, of a set of rows; merged exactly.</summary>
public sealed class Aggregate
{
    public long Count;
    public int Status;
    public readonly double[] Sum = new double[Rollups.Columns.Length];
    public readonly double[] Min = new double[Rollups.Columns.Length];
    public readonly double[] Max = new double[Rollups.Columns.Length];

    public void Add(Measurement m)
    {
        Status |= m.Status ?? 0;
        for (var k = 0; k < Sum.Length; k++) Add(k, Rollups.Value(m, k), Rollups.Value(m, k), Rollups.Value(m, k));
        Count++;
    }

    internal void Add(int k, double sum, double min, double max)
    {
        if (Count == 0)
        {
            Sum[k] = sum;
            Min[k] = min;
            Max[k] = max;
            return;
        }
        Sum[k] += sum;
        if (min < Min[k]) Min[k] = min;
        if (max > Max[k]) Max[k] = max;
    }

    /// <summary>Adds another aggregate (of other rows).</summary>
    public void Merge(long count, int status, ReadOnlySpan<double> sum, ReadOnlySpan<double> min, ReadOnlySpan<double> max)
    {
        if (count == 0) return;
        Status |= status;
        for (var k = 0; k < Sum.Length; k++) Add(k, sum[k], min[k], max[k]);
        Count += count;
    }
}

/// <summary>The hourly and daily aggregates of the rows one write batch inserted, to be added to the stored rollups.</summary>
internal sealed class RollupAccumulator
{
    private readonly Dictionary<(string Node, int Period, long Start), Aggregate> _pending = new();

    public int Count => _pending.Count;

    // The aggregates the last row went to: a batch's rows come a node's log at a time, in time order, so most rows
    // add to the same hour and day as the row before, without a look-up.
    private string? _node;
    private long _hourStart, _dayStart;
    private Aggregate? _hour, _day;

    public void Add(Measurement m)
    {
        if (!string.Equals(m.NodeId, _node, StringComparison.Ordinal))
        {
            _node = m.NodeId;
            _hour = _day = null;
        }
        var hour = Rollups.AlignDown(m.Timestamp, Rollups.Hour);
        if (_hour is null || hour != _hourStart) (_hour, _hourStart) = (Get(m.NodeId, Rollups.Hour, hour), hour);
        _hour.Add(m);
        var day = Rollups.AlignDown(m.Timestamp, Rollups.Day);
        if (_day is null || day != _dayStart) (_day, _dayStart) = (Get(m.NodeId, Rollups.Day, day), day);
        _day.Add(m);
    }

    private Aggregate Get(string node, int period, long start)
    {
        if (!_pending.TryGetValue((node, period, start), out var aggregate))
            _pending[(node, period, start)] = aggregate = new Aggregate();
        return aggregate;
    }

    /// <summary>In key order, so concurrent writers take the rows' locks in the same order.</summary>
    public IEnumerable<((string Node, int Period, long Start) Key, Aggregate Aggregate)> Drain()
    {
        var items = _pending.Select(kv => (kv.Key, kv.Value)).ToList();
        items.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.Key.Node, b.Key.Node);
            if (c != 0) return c;
            c = a.Key.Period.CompareTo(b.Key.Period);
            return c != 0 ? c : a.Key.Start.CompareTo(b.Key.Start);
        });
        Clear();
        return items;
    }

    public void Clear()
    {
        _pending.Clear();
        _node = null;
        _hour = _day = null;
    }

    /// <summary>The values of one pending aggregate in <see cref="Rollups.ParameterNames"/> order.</summary>
    public static object[] Values((string Node, int Period, long Start) key, Aggregate a)
    {
        var values = new object[5 + 3 * a.Sum.Length];
        values[0] = key.Node;
        values[1] = key.Period;
        values[2] = key.Start;
        values[3] = a.Count;
        values[4] = a.Status;
        for (var k = 0; k < a.Sum.Length; k++)
        {
            values[5 + 3 * k] = a.Sum[k];
            values[6 + 3 * k] = a.Min[k];
            values[7 + 3 * k] = a.Max[k];
        }
        return values;
    }
}
