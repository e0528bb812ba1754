using System.Diagnostics;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Isems.Benchmarks;

/// <summary>
/// Lines committed per second into SQLite through <see cref="MeasurementStore.WriteAsync"/>, with 0% and 80%
/// duplicates, beside bare loops doing the same inserts into the same schema in the same run: the prepared
/// <c>INSERT OR IGNORE</c> through Microsoft.Data.Sqlite (one row per statement), and the same through SQLite's C API,
/// one row and 32 rows per statement. The steps between them show where a writer's time goes.
/// </summary>
internal static class StoreBenchmark
{
    private const int Nodes = 1000;
    private const int Lines = 500_000;
    private const int BatchLines = 5000;
    // A group is what one sender hands the writer: one node's new lines from a poll or a message.
    private const int GroupLines = Lines / Nodes;

    private sealed record Loop(string Label, Func<string, List<Measurement>, Task> Write);

    private static readonly Loop[] Baselines =
    [
        new("baseline: Microsoft.Data.Sqlite, prepared, 1 row a statement", (path, lines) => AdoLoop(path, lines)),
        new("baseline: C API, prepared, 1 row a statement", (path, lines) => NativeLoop(path, lines, rowsPerStatement: 1)),
        new("baseline: C API, prepared, 32 rows a statement", (path, lines) => NativeLoop(path, lines, SqliteWriter.RowsPerStatement)),
    ];

    /// <summary>Returns the fastest bare loop's rate for new lines, the ceiling of a first poll cycle.</summary>
    public static async Task<double> RunAsync()
    {
        var bareNewLinesPerSecond = 0.0;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // 1,000 nodes, a group of lines each, their groups interleaved in every transaction, as a busy writer sees them.
        var lines = Enumerable.Range(0, Lines)
            .Select(i => LineParser.ParsePayload(SimulatedLines.Router($"node-{i / GroupLines:0000}", now - (Lines - i) * 60L, i), now).Lines[0])
            .ToList();

        Report.Header($"store: {Lines:N0} lines of {Nodes:N0} nodes into SQLite, {BatchLines:N0} lines ({BatchLines / GroupLines} nodes' groups) per transaction");
        foreach (var duplicateShare in new[] { 0.0, 0.8 })
        {
            var label = $"{duplicateShare:P0} duplicates";
            var store = await TimeAsync(lines, duplicateShare, StoreWriteAsync);
            var bare = new List<(string Label, TimeSpan Time)>();
            foreach (var loop in Baselines) bare.Add((loop.Label, await TimeAsync(lines, duplicateShare, loop.Write)));
            Report.Row($"MeasurementStore.WriteAsync, {label}", Lines / store.TotalSeconds, "lines/s",
                string.Join(", ", bare.Select((b, i) => $"{b.Time / store:P0} of baseline {i + 1}")));
            foreach (var (loopLabel, time) in bare) Report.Row(loopLabel, Lines / time.TotalSeconds, "lines/s");
            var share = bare[0].Time / store;
            Report.Summary($"store into SQLite, {label}", $"{Lines / store.TotalSeconds:N0} lines/s",
                $"{share:P0} of the bare Microsoft.Data.Sqlite loop; {bare[^1].Time / store:P0} of the C API loop, 32 rows a statement",
                "≥ 60% of the bare loop", share >= 0.6);
            if (duplicateShare == 0) bareNewLinesPerSecond = bare.Max(b => Lines / b.Time.TotalSeconds);
        }
        return bareNewLinesPerSecond;
    }

    private static async Task<TimeSpan> TimeAsync(List<Measurement> lines, double duplicateShare, Func<string, List<Measurement>, Task> write)
    {
        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        try
        {
            var path = Path.Combine(folder.FullName, "bench.db");
            using (var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{path}", folder.FullName)))
            {
                store.Migrate();
                var random = new Random(1);
                var already = lines.Where(_ => random.NextDouble() < duplicateShare).ToList();
                foreach (var chunk in already.Chunk(BatchLines)) await store.WriteAsync([chunk]);
            }
            SqliteConnection.ClearAllPools();
            var watch = Stopwatch.StartNew();
            await write(path, lines);
            return watch.Elapsed;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    private static async Task StoreWriteAsync(string path, List<Measurement> lines)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{path}", Path.GetDirectoryName(path)!));
        foreach (var batch in lines.Chunk(BatchLines))
            await store.WriteAsync(batch.Chunk(GroupLines).Select(g => (IReadOnlyList<Measurement>)g).ToList());
    }

    private const string InsertColumns = """
        INSERT OR IGNORE INTO measurements (node_id, timestamp, isems_revision, firmware_version, time_to_shutdown,
          power_save_level, open_circuit_voltage, mpp_voltage, battery_voltage, battery_charge_estimate,
          battery_health_estimate, battery_temperature, low_voltage_disconnect_voltage, temperature_corrected_voltage,
          rate_battery_capacity, rated_solar_module_capacity, latitude, longitude, status)
        """;

    private static SqliteConnection OpenBare(string path)
    {
        var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static Task AdoLoop(string path, List<Measurement> lines)
    {
        using var connection = OpenBare(path);
        using var insert = connection.CreateCommand();
        insert.CommandText = InsertColumns + " VALUES ($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
        var p = Enumerable.Range(0, 19).Select(i => insert.Parameters.Add(new SqliteParameter($"${i}", null))).ToArray();
        insert.Prepare();
        foreach (var batch in lines.Chunk(BatchLines))
        {
            using var transaction = connection.BeginTransaction();
            insert.Transaction = transaction;
            foreach (var m in batch)
            {
                Bind(p, m);
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        return Task.CompletedTask;
    }

    /// <summary>The C API loop: SQLitePCL for the statement and transaction, the store's direct calls for every field.</summary>
    private static Task NativeLoop(string path, List<Measurement> lines, int rowsPerStatement)
    {
        using var connection = OpenBare(path);
        var db = connection.Handle!;
        var row = "(" + string.Join(", ", Enumerable.Repeat("?", 19)) + ")";
        Check(raw.sqlite3_prepare_v2(db, $"{InsertColumns} VALUES {string.Join(", ", Enumerable.Repeat(row, rowsPerStatement))}", out var many), db);
        Check(raw.sqlite3_prepare_v2(db, $"{InsertColumns} VALUES {row}", out var one), db);
        using (many)
        using (one)
        {
            var (manyPointer, onePointer) = (many.DangerousGetHandle(), one.DangerousGetHandle());
            foreach (var batch in lines.Chunk(BatchLines))
            {
                Check(raw.sqlite3_exec(db, "BEGIN IMMEDIATE"), db);
                var i = 0;
                for (; i + rowsPerStatement <= batch.Length; i += rowsPerStatement)
                {
                    for (var r = 0; r < rowsPerStatement; r++) BindNative(manyPointer, r * 19, batch[i + r]);
                    Check(SqliteNative.Step(manyPointer), db);
                    SqliteNative.Reset(manyPointer);
                }
                for (; i < batch.Length; i++)
                {
                    BindNative(onePointer, 0, batch[i]);
                    Check(SqliteNative.Step(onePointer), db);
                    SqliteNative.Reset(onePointer);
                }
                Check(raw.sqlite3_exec(db, "COMMIT"), db);
            }
        }
        return Task.CompletedTask;
    }

    private static void Check(int rc, sqlite3 db)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE)) SqliteException.ThrowExceptionForRC(rc, db);
    }

    private static void BindNative(IntPtr s, int o, Measurement m)
    {
        BindText(s, o + 1, m.NodeId); SqliteNative.BindInt64(s, o + 2, m.Timestamp);
        BindText(s, o + 3, m.IsemsRevision); BindText(s, o + 4, m.OpenMpptFirmwareVersion);
        SqliteNative.BindDouble(s, o + 5, m.TimeToShutdown); SqliteNative.BindInt32(s, o + 6, m.PowerSaveLevel);
        SqliteNative.BindDouble(s, o + 7, m.OpenCircuitVoltage); SqliteNative.BindDouble(s, o + 8, m.MppVoltage);
        SqliteNative.BindDouble(s, o + 9, m.BatteryVoltage); SqliteNative.BindDouble(s, o + 10, m.BatteryChargeEstimate);
        SqliteNative.BindDouble(s, o + 11, m.BatteryHealthEstimate); SqliteNative.BindDouble(s, o + 12, m.BatteryTemperature);
        SqliteNative.BindDouble(s, o + 13, m.LowVoltageDisconnectVoltage); SqliteNative.BindDouble(s, o + 14, m.TemperatureCorrectedVoltage);
        SqliteNative.BindDouble(s, o + 15, m.RateBatteryCapacity); SqliteNative.BindDouble(s, o + 16, m.RatedSolarModuleCapacity);
        SqliteNative.BindDouble(s, o + 17, m.Latitude); SqliteNative.BindDouble(s, o + 18, m.Longitude);
        if (m.Status is { } status) SqliteNative.BindInt32(s, o + 19, status); else SqliteNative.BindNull(s, o + 19);
    }

    private static void BindText(IntPtr s, int index, string value)
    {
        Span<byte> utf8 = stackalloc byte[3 * 64];
        var length = Encoding.UTF8.GetBytes(value, utf8);
        SqliteNative.BindText(s, index, utf8, length, SqliteNative.Transient);
    }

    /// <summary>The bare loops' parameters, in the column order of their INSERT, for SQLite and PostgreSQL alike.</summary>
    internal static void Bind(IReadOnlyList<System.Data.Common.DbParameter> p, Measurement m)
    {
        p[0].Value = m.NodeId; p[1].Value = m.Timestamp; p[2].Value = m.IsemsRevision; p[3].Value = m.OpenMpptFirmwareVersion;
        p[4].Value = m.TimeToShutdown; p[5].Value = m.PowerSaveLevel; p[6].Value = m.OpenCircuitVoltage; p[7].Value = m.MppVoltage;
        p[8].Value = m.BatteryVoltage; p[9].Value = m.BatteryChargeEstimate; p[10].Value = m.BatteryHealthEstimate;
        p[11].Value = m.BatteryTemperature; p[12].Value = m.LowVoltageDisconnectVoltage; p[13].Value = m.TemperatureCorrectedVoltage;
        p[14].Value = m.RateBatteryCapacity; p[15].Value = m.RatedSolarModuleCapacity; p[16].Value = m.Latitude;
        p[17].Value = m.Longitude; p[18].Value = (object?)m.Status ?? DBNull.Value;
    }
}
