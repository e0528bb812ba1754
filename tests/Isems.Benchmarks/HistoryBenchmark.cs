using System.Diagnostics;
using System.Globalization;
using Isems.Api.Controllers;
using Isems.Api.Json;
using Isems.LineFormat;
using Isems.Storage;
using Microsoft.Data.Sqlite;

namespace Isems.Benchmarks;

/// <summary>
/// Issue 11's figures: a year of one node's history in hourly and daily buckets over a 10 M row database (beside the
/// same aggregate as one plain GROUP BY over the raw rows), a day raw (beside /measurements/{id}/latest), the CSV
/// export of the year (rows/s and resident memory growth), compressed and 304 answers of /measurements/latest, and the
/// first poll cycle with and without rollups.
/// </summary>
internal static class HistoryBenchmark
{
    private const string YearNode = "year-node";
    private const long Minute = 60;

    public static async Task RunAsync(int nodes, int rowsPerNode, int yearRows, int seconds, bool writePath)
    {
        Report.Header($"history: {nodes:N0} nodes × {rowsPerNode:N0} rows + one node with {yearRows:N0} rows a minute apart, SQLite, the real host");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var yearEnd = Rollups.AlignDown(now, Rollups.Day);
        var yearStart = yearEnd - yearRows * Minute;

        var seeding = Stopwatch.StartNew();
        await using var host = await ApiBenchmark.Host.StartAsync((url, folder) => SeedAsync(url, folder, nodes, rowsPerNode, yearStart, yearRows, now));
        Console.WriteLine($"  ({(long)nodes * rowsPerNode + yearRows:N0} rows stored through the store, rollups kept as they were written, in {seeding.Elapsed.TotalSeconds:0} s)");

        using var store = new MeasurementStore(DatabaseTarget.Parse(host.DatabaseUrl, Path.GetTempPath()));
        using var client = new HttpClient { BaseAddress = host.Url };
        var range = new HistoryRange(yearStart, yearEnd);

        // A year in buckets: the store (rollups) and the JSON, as a request that misses the cache costs them.
        foreach (var (bucket, name, target) in new[] { (3_600L, "1h", 20.0), (86_400L, "1d", double.NaN) })
        {
            var points = 0;
            var work = Report.Best(10, () =>
            {
                var history = store.AggregateAsync(YearNode, yearStart, yearEnd, bucket).GetAwaiter().GetResult();
                points = history.Buckets.Count;
                HistoryJsonWriter.PointsBody(YearNode, range, name, history, null);
            });
            var request = 0;
            var http = Report.Best(10, () => client.GetByteArrayAsync(
                $"/measurements/{YearNode}/history?from={yearStart}&to={yearEnd - request++}&bucket={name}").GetAwaiter().GetResult());
            var groupBy = Report.Best(5, () => PlainGroupBy(host.DatabaseUrl, yearStart, yearEnd, bucket));
            Report.Row($"a year at {name} buckets ({points:N0} points): rollups + JSON", work.TotalMilliseconds, "ms",
                $"over HTTP, uncached: {http.TotalMilliseconds:N1} ms");
            Report.Row($"baseline: the same aggregate as one GROUP BY over the {yearRows:N0} raw rows", groupBy.TotalMilliseconds, "ms");
            // Where the time goes: the rollups read and merged, and the JSON, each alone.
            var aggregated = store.AggregateAsync(YearNode, yearStart, yearEnd, bucket).GetAwaiter().GetResult();
            var read = Report.Best(10, () => store.AggregateAsync(YearNode, yearStart, yearEnd, bucket).GetAwaiter().GetResult());
            var json = Report.Best(10, () => HistoryJsonWriter.PointsBody(YearNode, range, name, aggregated, null));
            var rollupSteps = Report.Best(10, () => StepOnly(host.DatabaseUrl,
                $"SELECT start, {Rollups.AggregateColumns} FROM {Rollups.Table} WHERE node_id = '{YearNode}' AND period = {(bucket == 3_600 ? 3_600 : 86_400)} AND start >= {yearStart} AND start < {yearEnd} ORDER BY start", columns: 0));
            Report.Row($"  of which: SQLite stepping through the rollups alone", rollupSteps.TotalMilliseconds, "ms");
            Report.Row($"  of which: the rollups read and merged", read.TotalMilliseconds, "ms", $"the JSON ({HistoryJsonWriter.Points(YearNode, range, name, aggregated, null).Length / 1024:N0} KiB): {json.TotalMilliseconds:N1} ms");
            Report.Summary($"a year of one node at {name} buckets ({points:N0} points), of {(long)nodes * rowsPerNode + yearRows:N0} rows",
                $"{work.TotalMilliseconds:N1} ms (HTTP uncached {http.TotalMilliseconds:N1} ms)",
                $"one GROUP BY over the raw rows: {groupBy.TotalMilliseconds:N0} ms",
                double.IsNaN(target) ? "" : $"≤ {target:N0} ms", double.IsNaN(target) ? null : http.TotalMilliseconds <= target);
        }

        // A day raw beside /measurements/{id}/latest (1,440 rows each), both uncached: query and JSON.
        var dayFrom = yearEnd - Rollups.Day;
        var day = Report.Best(20, () => HistoryJsonWriter.Raw(YearNode, new HistoryRange(dayFrom, yearEnd),
            store.RangeAsync(YearNode, dayFrom, yearEnd, 100_001).GetAwaiter().GetResult(), null));
        var latest = Report.Best(20, () => MeasurementJsonWriter.ToUtf8(store.HistoryAsync(YearNode, 1440).GetAwaiter().GetResult()));
        Report.Row("a day raw (1,440 rows): query + JSON", day.TotalMilliseconds, "ms");
        Report.Row("baseline: /measurements/{id}/latest (1,440 rows): query + JSON", latest.TotalMilliseconds, "ms");
        Report.Summary("a day raw (1,440 rows), query + JSON", $"{day.TotalMilliseconds:N1} ms", $"`/measurements/{{id}}/latest`: {latest.TotalMilliseconds:N1} ms",
            "as fast or faster", day <= latest * 1.05);

        await ExportAsync(host, yearStart, yearEnd, yearRows);
        await CompressionAsync(host, client, seconds, nodes + 1);

        if (writePath) await WritePathAsync(1000, 3657, postgres: false, rounds: 2);
    }

    /// <summary>
    /// The first poll cycle with and without rollups, alternated <paramref name="rounds"/> times each so that the
    /// machine's other load falls on both alike; on SQLite or PostgreSQL.
    /// </summary>
    public static async Task WritePathAsync(int nodes, int lines, bool postgres, int rounds)
    {
        var with = new List<double>();
        var without = new List<double>();
        var withCpu = new List<double>();
        var withoutCpu = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var (wall, cpu) = await PollCycleBenchmark.RunAsync(nodes, lines, null, postgres, rollups: false, firstCycleOnly: true);
            without.Add(wall.TotalSeconds);
            withoutCpu.Add(cpu.TotalSeconds);
            (wall, cpu) = await PollCycleBenchmark.RunAsync(nodes, lines, null, postgres, rollups: true, firstCycleOnly: true);
            with.Add(wall.TotalSeconds);
            withCpu.Add(cpu.TotalSeconds);
        }
        var database = postgres ? "PostgreSQL" : "SQLite";
        var cost = with.Min() / without.Min() - 1;
        var cpuCost = withCpu.Min() / withoutCpu.Min() - 1;
        static string Runs(List<double> seconds) => string.Join(", ", seconds.Select(s => s.ToString("N1", CultureInfo.InvariantCulture)));
        Report.Row($"  CPU of the first cycle, with rollups (best of {rounds})", withCpu.Min() * 1000, "ms", $"without: {withoutCpu.Min() * 1000:N0} ms ({cpuCost:+0%;-0%}); the collector's and simulator's, not PostgreSQL's");
        Report.Row($"first poll cycle, {nodes:N0} × {lines:N0} lines, {database}, with rollups (best of {rounds})", with.Min() * 1000, "ms", $"runs {Runs(with)} s");
        Report.Row($"baseline: the same without rollups (best of {rounds})", without.Min() * 1000, "ms", $"runs {Runs(without)} s");
        Report.Summary($"first poll cycle, {nodes:N0} × {lines:N0} lines, {database}, with rollups", $"{with.Min():N1} s ({cost:+0%;-0%}), CPU {withCpu.Min():N1} s ({cpuCost:+0%;-0%})",
            $"without rollups: {without.Min():N1} s, CPU {withoutCpu.Min():N1} s", "≤ +15%", cost <= 0.15);
    }

    /// <summary>
    /// Migration step 5 on an existing database: <paramref name="rows"/> rows of 1,000 nodes stored as a database of
    /// the version before the rollups holds them, then the store's migration builds their hourly and daily rollups.
    /// Beside it: the same rows' write (no rollups kept), and one plain scan of them.
    /// </summary>
    public static async Task MigrationAsync(int rows)
    {
        const int nodes = 1000;
        Report.Header($"migration step 5: building the rollups of {rows:N0} stored rows ({nodes:N0} nodes), SQLite");
        var folder = Directory.CreateTempSubdirectory("isems-bench-migrate-");
        try
        {
            var url = $"sqlite:///{Path.Combine(folder.FullName, "migrate.db")}";
            var target = DatabaseTarget.Parse(url, folder.FullName);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var perNode = rows / nodes;
            TimeSpan write;
            using (var store = new MeasurementStore(target, maintainRollups: false))
            {
                store.Migrate();
                var templates = Enumerable.Range(0, nodes).Select(n => Row($"node-{n:0000}", 0)).ToArray();
                var watch = Stopwatch.StartNew();
                const int block = 100;
                for (var first = 0; first < perNode; first += block)
                {
                    var groups = new List<IReadOnlyList<Measurement>>(nodes);
                    foreach (var template in templates)
                    {
                        var list = new List<Measurement>(block);
                        for (var i = first; i < Math.Min(perNode, first + block); i++) list.Add(Vary(template, now - i * Minute));
                        groups.Add(list);
                    }
                    await store.WriteAsync(groups);
                }
                write = watch.Elapsed;
            }
            SqliteConnection.ClearAllPools();
            using (var connection = new SqliteConnection(target.ConnectionString))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                // As a database of the version before the rollups: no step 5, nor the steps after it (the writer
                // needs the rollup table to exist, even when it keeps none, so it goes after the rows are written).
                command.CommandText = "DROP TABLE measurement_rollups; DROP TABLE raw_horizons; DROP TABLE alerts; DELETE FROM schema_version WHERE version >= 5";
                command.ExecuteNonQuery();
            }
            SqliteConnection.ClearAllPools();
            var scan = Stopwatch.StartNew();
            using (var connection = new SqliteConnection(target.ConnectionString))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*), SUM(battery_voltage), MAX(status) FROM measurements";
                command.ExecuteScalar();
            }
            scan.Stop();
            var migrate = Stopwatch.StartNew();
            using (var store = new MeasurementStore(target)) store.Migrate();
            migrate.Stop();
            using (var store = new MeasurementStore(target))
                if (await store.RollupCountAsync("node-0000", Rollups.Hour) == 0) Console.WriteLine("  warning: no rollups built");
            var size = new FileInfo(Path.Combine(folder.FullName, "migrate.db")).Length;
            Report.Row($"migration step 5 on {(long)nodes * perNode:N0} rows ({size / 1048576.0:N0} MiB file)", migrate.Elapsed.TotalMilliseconds, "ms",
                $"{(long)nodes * perNode / migrate.Elapsed.TotalSeconds:N0} rows/s");
            Report.Row("baseline: writing those rows through the store, no rollups", write.TotalMilliseconds, "ms",
                $"{(long)nodes * perNode / write.TotalSeconds:N0} rows/s");
            Report.Row("baseline: one plain scan of them (COUNT, SUM, MAX)", scan.Elapsed.TotalMilliseconds, "ms");
            Report.Summary($"migration step 5 (rollups built) on {(long)nodes * perNode:N0} stored rows, SQLite", $"{migrate.Elapsed.TotalSeconds:N1} s",
                $"writing them: {write.TotalSeconds:N1} s; one scan: {scan.Elapsed.TotalSeconds:N1} s", "", null);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    private static async Task ExportAsync(ApiBenchmark.Host host, long yearStart, long yearEnd, int yearRows)
    {
        using var client = new HttpClient { BaseAddress = host.Url, Timeout = TimeSpan.FromMinutes(5) };
        // Warm: the first request compiles the path.
        await client.GetByteArrayAsync($"/measurements/{YearNode}/export?from={yearEnd - 86_400}&to={yearEnd}");
        GC.Collect();
        var rssBefore = ResidentBytes();
        var anonBefore = ResidentBytes("RssAnon:");
        long peak = rssBefore, peakAnon = anonBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, ResidentBytes());
                peakAnon = Math.Max(peakAnon, ResidentBytes("RssAnon:"));
                await Task.Delay(5);
            }
        });
        var watch = Stopwatch.StartNew();
        TimeSpan? firstByte = null;
        using var response = await client.GetAsync($"/measurements/{YearNode}/export?from={yearStart}&to={yearEnd}", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long bytes = 0, rows = -1; // the header row
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            firstByte ??= watch.Elapsed;
            bytes += n;
            rows += buffer.AsSpan(0, n).Count((byte)'\n');
        }
        var wall = watch.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        var rate = rows / wall.TotalSeconds;
        Report.Row($"CSV export of the year ({rows:N0} rows, {bytes / 1048576.0:N0} MiB) over HTTP", rate, "rows/s",
            $"first byte after {firstByte?.TotalMilliseconds:N0} ms, all after {wall.TotalMilliseconds:N0} ms");
        Report.Row("  peak resident memory growth of the process (host and client)", (peak - rssBefore) / 1048576.0, "MiB",
            $"the export itself is {bytes / 1048576.0:N0} MiB");
        // VmRSS counts the database file's pages that the read connections map (the OS's page cache, shared and
        // reclaimable); RssAnon is the process's own memory.
        Report.Row("  of which the process's own (RssAnon), not the mapped database file", (peakAnon - anonBefore) / 1048576.0, "MiB");
        // Baseline: reading the same rows from the store without writing anything.
        var read = Stopwatch.StartNew();
        var count = 0;
        using var store = new MeasurementStore(DatabaseTarget.Parse(host.DatabaseUrl, Path.GetTempPath()));
        await foreach (var _ in store.ExportAsync(YearNode, yearStart, yearEnd)) count++;
        read.Stop();
        Report.Row("baseline: the store reading the same rows, nothing written", count / read.Elapsed.TotalSeconds, "rows/s");
        // Where the time goes, each step alone: SQLite stepping through the rows (the floor), the rows read column by
        // column, and written as CSV into nothing (no HTTP).
        var steps = Report.Best(3, () => StepOnly(host.DatabaseUrl, ExportSql(yearStart, yearEnd), columns: 0));
        var columns = Report.Best(3, () => StepOnly(host.DatabaseUrl, ExportSql(yearStart, yearEnd), columns: 20));
        var csv = await BestAsync(3, async () =>
        {
            var writer = new Isems.Api.Export.ExportWriter(Stream.Null, lines: false);
            await foreach (var row in store.ExportRowsAsync(YearNode, yearStart, yearEnd))
            {
                writer.Row(row);
                if (writer.Full) await writer.FlushAsync(default);
            }
            await writer.FlushAsync(default);
        });
        Report.Row("  of which: SQLite stepping through the rows alone", yearRows / steps.TotalSeconds, "rows/s",
            $"with every column read: {yearRows / columns.TotalSeconds:N0} rows/s; read and written as CSV, no HTTP: {yearRows / csv.TotalSeconds:N0} rows/s");
        Report.Summary($"CSV export of a year ({rows:N0} rows) over HTTP", $"{rate:N0} rows/s, peak RSS growth {(peak - rssBefore) / 1048576.0:N0} MiB (own memory {(peakAnon - anonBefore) / 1048576.0:N0} MiB, the rest the mapped database file)",
            $"the store reading them alone: {count / read.Elapsed.TotalSeconds:N0} rows/s; export {bytes / 1048576.0:N0} MiB", "≥ 500,000 rows/s", rate >= 500_000);
        if (yearRows != count) Console.WriteLine($"  warning: {count} rows read, {yearRows} written");
    }

    private static async Task CompressionAsync(ApiBenchmark.Host host, HttpClient client, int seconds, int nodes)
    {
        const string path = "/measurements/latest?all=true";
        var identity = await client.GetAsync(path);
        var size = (await identity.Content.ReadAsByteArrayAsync()).Length;
        var tag = identity.Headers.ETag!.Tag;
        long Compressed(string encoding)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
            using var response = client.Send(request);
            return response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult().Length;
        }
        var url = new Uri(host.Url, path);
        await ApiBenchmark.LoadAsync(url, 3);
        var (plain, plainP99) = await ApiBenchmark.LoadAsync(url, seconds);
        Report.Row($"baseline: {path}, {nodes:N0} nodes, uncompressed ({size / 1024.0:N0} KiB)", plain, "req/s", $"p99 {plainP99:N1} ms");
        foreach (var encoding in new[] { "br", "gzip" })
        {
            var bytes = Compressed(encoding);
            await ApiBenchmark.LoadAsync(url, 3, $"Accept-Encoding: {encoding}");
            var (rate, p99) = await ApiBenchmark.LoadAsync(url, seconds, $"Accept-Encoding: {encoding}");
            Report.Row($"the same with Accept-Encoding: {encoding} ({bytes / 1024.0:N0} KiB, {(double)size / bytes:N1}× fewer bytes)", rate, "req/s", $"p99 {p99:N1} ms");
            Report.Summary($"`{path}`, {nodes:N0} nodes, `Accept-Encoding: {encoding}`", $"{rate:N0} req/s, {bytes / 1024.0:N0} KiB ({(double)size / bytes:N1}× fewer bytes)",
                $"uncompressed: {plain:N0} req/s, {size / 1024.0:N0} KiB", "req/s ≥ uncompressed, ≥ 5× fewer bytes", rate >= plain * 0.97 && size >= 5 * bytes);
        }
        var (notModified, nmP99) = await ApiBenchmark.LoadAsync(url, seconds, $"If-None-Match: {tag}");
        Report.Row("the same with If-None-Match: its ETag (304, no body)", notModified, "req/s", $"p99 {nmP99:N1} ms");
        Report.Summary($"`{path}`, {nodes:N0} nodes, `If-None-Match` (304)", $"{notModified:N0} req/s", $"uncompressed 200: {plain:N0} req/s");
    }

    private static string ExportSql(long from, long to) =>
        $"SELECT {Schema.SelectColumns} FROM {Schema.Table} WHERE node_id = '{YearNode}' AND timestamp >= {from} AND timestamp < {to} ORDER BY timestamp";

    /// <summary>Steps through a query's rows with SQLite's C API, reading the first <paramref name="columns"/> columns of each.</summary>
    private static void StepOnly(string databaseUrl, string sql, int columns)
    {
        // A connection as the store's reads open theirs (no mutex per call), so the baseline pays what they pay.
        using var connection = new SqliteReadConnection(new SqliteConnectionStringBuilder(DatabaseTarget.Parse(databaseUrl, Path.GetTempPath()).ConnectionString).DataSource);
        var statement = connection.Statement(sql);
        double sum = 0;
        while (statement.Step())
            for (var c = 0; c < columns; c++) sum += c is 1 or 2 or 4 ? statement.Text(c).Length : statement.Double(c);
        GC.KeepAlive(sum);
    }

    private static async Task<TimeSpan> BestAsync(int times, Func<Task> work)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < times; i++)
        {
            var watch = Stopwatch.StartNew();
            await work();
            if (watch.Elapsed < best) best = watch.Elapsed;
        }
        return best;
    }

    /// <summary>The year's aggregate as one plain GROUP BY over the raw rows, read to the end: what rollups spare.</summary>
    private static void PlainGroupBy(string databaseUrl, long from, long to, long bucket)
    {
        using var connection = new SqliteConnection(DatabaseTarget.Parse(databaseUrl, Path.GetTempPath()).ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        var or = string.Join(" | ", Enumerable.Range(0, 12).Select(b => $"COALESCE(MAX(status & {1 << b}), 0)"));
        var columns = string.Join(", ", new[] { "time_to_shutdown", "open_circuit_voltage", "mpp_voltage", "battery_voltage", "battery_charge_estimate",
            "battery_health_estimate", "battery_temperature", "low_voltage_disconnect_voltage", "temperature_corrected_voltage" }
            .Select(c => $"AVG({c}), MIN({c}), MAX({c})"));
        command.CommandText = $"SELECT timestamp / {bucket} * {bucket} AS b, COUNT(*), {or}, {columns} FROM measurements " +
                              $"WHERE node_id = '{YearNode}' AND timestamp >= {from} AND timestamp < {to} GROUP BY b ORDER BY b";
        using var reader = command.ExecuteReader();
        var values = new object[reader.FieldCount];
        while (reader.Read()) reader.GetValues(values);
    }

    private static long ResidentBytes(string field = "VmRSS:")
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>
    /// Rows built directly (no text to parse): every node's rows a block at a time across the fleet, as a busy writer
    /// stores them, then the year node's in large batches. Values vary with time so that aggregates are not trivial.
    /// </summary>
    private static async Task SeedAsync(string url, string folder, int nodes, int rowsPerNode, long yearStart, int yearRows, long now)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(url, folder));
        store.Migrate();
        var templates = Enumerable.Range(0, nodes).Select(n => Row($"node-{n:0000}", 0)).ToArray();
        const int block = 100;
        for (var first = 0; first < rowsPerNode; first += block)
        {
            var groups = new List<IReadOnlyList<Measurement>>(nodes);
            foreach (var template in templates)
            {
                var rows = new List<Measurement>(block);
                for (var i = first; i < Math.Min(rowsPerNode, first + block); i++) rows.Add(Vary(template, now - i * Minute));
                groups.Add(rows);
            }
            await store.WriteAsync(groups);
        }
        var year = Row(YearNode, 0);
        for (var first = 0; first < yearRows; first += 50_000)
        {
            var rows = new List<Measurement>(50_000);
            for (var i = first; i < Math.Min(yearRows, first + 50_000); i++) rows.Add(Vary(year, yearStart + i * Minute));
            await store.WriteAsync([rows]);
        }
    }

    private static Measurement Row(string node, long t) =>
        new(node, "1", t, "ATmega8_A_1", 0, 0, 18.614, 17.2, 12.5, 80, 100, 21, 11.7, 14.086, 7, 20, 52.507309, 13.458635, 0x902);

    private static Measurement Vary(Measurement template, long t)
    {
        var phase = (t / 60 % 1440) / 1440.0;
        var sun = Math.Max(0, Math.Sin(phase * 2 * Math.PI));
        return template with
        {
            Timestamp = t,
            BatteryVoltage = Math.Round(11.8 + 1.2 * sun, 3),
            BatteryChargeEstimate = Math.Round(40 + 60 * sun),
            MppVoltage = Math.Round(14 + 4 * sun, 3),
            BatteryTemperature = Math.Round(10 + 15 * sun),
            Status = sun > 0.5 ? 0x902 : sun > 0 ? 0x502 : t % 7 == 0 ? 0x482 : 0x402,
        };
    }
}
