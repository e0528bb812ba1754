using System.Diagnostics;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using Microsoft.Data.Sqlite;

namespace Isems.Benchmarks;

/// <summary>
/// Lines committed per second into SQLite through <see cref="MeasurementStore.WriteAsync"/>, with 0% and 80%
/// duplicates, beside a bare prepared INSERT OR IGNORE loop doing the same inserts into the same schema in the same run.
/// </summary>
internal static class StoreBenchmark
{
    private const int Nodes = 1000;
    private const int Lines = 100_000;
    private const int BatchLines = 5000;
    // A group is what one sender hands the writer: one node's new lines from a poll or a message.
    private const int GroupLines = Lines / Nodes;

    /// <summary>Returns the bare loop's rate for new lines, the ceiling of a first poll cycle.</summary>
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
            var store = await TimeAsync(lines, duplicateShare, StoreWriteAsync);
            var bare = await TimeAsync(lines, duplicateShare, BareLoopAsync);
            var label = $"{duplicateShare:P0} duplicates";
            Report.Row($"MeasurementStore.WriteAsync, {label}", Lines / store.TotalSeconds, "lines/s", $"{bare / store:P0} of the bare loop");
            Report.Row($"baseline: bare prepared INSERT OR IGNORE, {label}", Lines / bare.TotalSeconds, "lines/s");
            if (duplicateShare == 0) bareNewLinesPerSecond = Lines / bare.TotalSeconds;
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

    private static Task BareLoopAsync(string path, List<Measurement> lines)
    {
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
            pragma.ExecuteNonQuery();
        }
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT OR IGNORE INTO measurements (node_id, timestamp, isems_revision, firmware_version, time_to_shutdown,
              power_save_level, open_circuit_voltage, mpp_voltage, battery_voltage, battery_charge_estimate,
              battery_health_estimate, battery_temperature, low_voltage_disconnect_voltage, temperature_corrected_voltage,
              rate_battery_capacity, rated_solar_module_capacity, latitude, longitude, status)
            VALUES ($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            """;
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
