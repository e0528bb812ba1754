using System.Diagnostics;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Npgsql;
using NpgsqlTypes;

namespace Isems.Benchmarks;

/// <summary>
/// The store benchmark on PostgreSQL (a server the benchmark starts, as the tests do): lines committed per second
/// through <see cref="MeasurementStore.WriteAsync"/>, 0% and 80% duplicates, beside a bare prepared
/// <c>INSERT … ON CONFLICT DO NOTHING</c> loop doing the same inserts into the same schema in the same run.
/// </summary>
internal static class PostgresStoreBenchmark
{
    private const int Nodes = 1000, Lines = 100_000, BatchLines = 5000, GroupLines = Lines / Nodes;

    public static async Task RunAsync()
    {
        Report.Header($"store on PostgreSQL: {Lines:N0} lines of {Nodes:N0} nodes, {BatchLines:N0} lines per transaction");
        PostgresServer server;
        try
        {
            server = await PostgresServer.SharedAsync();
        }
        catch (Exception e)
        {
            Console.WriteLine($"  skipped: no PostgreSQL server could be started ({e.Message})");
            return;
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var lines = Enumerable.Range(0, Lines)
            .Select(i => LineParser.ParsePayload(SimulatedLines.Router($"node-{i / GroupLines:0000}", now - (Lines - i) * 60L, i), now).Lines[0])
            .ToList();
        foreach (var duplicateShare in new[] { 0.0, 0.8 })
        {
            var store = await TimeAsync(server, lines, duplicateShare, (url, l) => StoreWriteAsync(url, l, PostgresWriteOptions.Default));
            var single = await TimeAsync(server, lines, duplicateShare, (url, l) => StoreWriteAsync(url, l, new PostgresWriteOptions(1)));
            var old = await TimeAsync(server, lines, duplicateShare, (url, l) => StoreWriteAsync(url, l, PostgresWriteOptions.Unnest));
            var bare = await TimeAsync(server, lines, duplicateShare, BareLoopAsync);
            var label = $"{duplicateShare:P0} duplicates";
            Report.Row($"MeasurementStore.WriteAsync, {label}", Lines / store.TotalSeconds, "lines/s",
                $"{PollCycleBenchmark.Describe(PostgresWriteOptions.Default)}; {bare / store:P0} of the bare loop, {old / store:P0} of the earlier path");
            Report.Row($"the same over 1 connection, {label}", Lines / single.TotalSeconds, "lines/s");
            Report.Row($"baseline: the earlier path (unnest, ON CONFLICT), {label}", Lines / old.TotalSeconds, "lines/s");
            Report.Row($"baseline: bare prepared INSERT … ON CONFLICT DO NOTHING, {label}", Lines / bare.TotalSeconds, "lines/s");
            Report.Summary($"store into PostgreSQL, {label}", $"{Lines / store.TotalSeconds:N0} lines/s",
                $"{bare / store:P0} of the bare loop; 1 connection {Lines / single.TotalSeconds:N0}, the earlier path {Lines / old.TotalSeconds:N0} lines/s",
                "≥ 60% of the bare loop", bare / store >= 0.6);
        }
    }

    private static async Task<TimeSpan> TimeAsync(PostgresServer server, List<Measurement> lines, double duplicateShare,
        Func<string, List<Measurement>, Task> write)
    {
        var url = await server.CreateDatabaseAsync();
        using (var store = new MeasurementStore(DatabaseTarget.Parse(url, Path.GetTempPath())))
        {
            store.Migrate();
            var random = new Random(1);
            foreach (var chunk in lines.Where(_ => random.NextDouble() < duplicateShare).Chunk(BatchLines)) await store.WriteAsync([chunk]);
        }
        var watch = Stopwatch.StartNew();
        await write(url, lines);
        return watch.Elapsed;
    }

    private static async Task StoreWriteAsync(string url, List<Measurement> lines, PostgresWriteOptions options)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(url, Path.GetTempPath()), maintainRollups: true, options);
        foreach (var batch in lines.Chunk(BatchLines))
            await store.WriteAsync(batch.Chunk(GroupLines).Select(g => (IReadOnlyList<Measurement>)g).ToList());
    }

    private static async Task BareLoopAsync(string url, List<Measurement> lines)
    {
        await using var connection = new NpgsqlConnection(DatabaseTarget.Parse(url, Path.GetTempPath()).ConnectionString);
        await connection.OpenAsync();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO measurements (node_id, timestamp, isems_revision, firmware_version, time_to_shutdown,
              power_save_level, open_circuit_voltage, mpp_voltage, battery_voltage, battery_charge_estimate,
              battery_health_estimate, battery_temperature, low_voltage_disconnect_voltage, temperature_corrected_voltage,
              rate_battery_capacity, rated_solar_module_capacity, latitude, longitude, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
            ON CONFLICT (node_id, timestamp) DO NOTHING
            """, connection);
        NpgsqlDbType[] types =
        [
            NpgsqlDbType.Text, NpgsqlDbType.Bigint, NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Double, NpgsqlDbType.Integer,
            .. Enumerable.Repeat(NpgsqlDbType.Double, 12), NpgsqlDbType.Integer,
        ];
        var p = types.Select(t => insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = t })).ToArray();
        await insert.PrepareAsync();
        foreach (var batch in lines.Chunk(BatchLines))
        {
            await using var transaction = await connection.BeginTransactionAsync();
            insert.Transaction = transaction;
            foreach (var m in batch)
            {
                StoreBenchmark.Bind(p, m);
                await insert.ExecuteNonQueryAsync();
            }
            await transaction.CommitAsync();
        }
    }
}
