using System.Diagnostics;
using Isems.LineFormat;
using Isems.Server.Hosting;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using System.Text.Json;

namespace Isems.Benchmarks;

/// <summary>
/// Time from start to ready, and resident memory, of the collector as its own process (the built Isems.Server.dll, as
/// an operator runs it) with many registered nodes (ISEMS_ROUTER_IPS, merged into the registry) and many stored rows.
/// The nodes' addresses lead nowhere and their interval is a day: idle nodes.
/// </summary>
internal static class StartBenchmark
{
    public static async Task RunAsync(int nodes, int rowsPerNode)
    {
        Report.Header($"start: {nodes:N0} registered idle nodes, {(long)nodes * rowsPerNode:N0} rows stored, the collector in a process of its own");
        var folder = Directory.CreateTempSubdirectory("isems-bench-start-");
        try
        {
            var databaseUrl = $"sqlite:///{Path.Combine(folder.FullName, "isems.db")}";
            // Port 9 on a documentation address: nothing answers, and with a day's interval nothing is tried yet.
            var urls = Enumerable.Range(0, nodes).Select(i => $"http://192.0.2.{i % 250 + 1}:9/n{i}/ISEMS/ffopenmppt.log").ToList();
            var addresses = string.Join(",", urls);
            var seeding = Stopwatch.StartNew();
            await SeedAsync(databaseUrl, folder.FullName, urls, rowsPerNode);
            Console.WriteLine($"  (seeded in {seeding.Elapsed.TotalSeconds:0} s)");
            // Megabytes of addresses are too long for an environment variable (Linux takes 128 KiB): the settings go in
            // the appsettings.json of the working directory, the collector's content root.
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "appsettings.json"), JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["DATABASE_URL"] = databaseUrl,
                ["ISEMS_ROUTER_IPS"] = addresses,
                ["POLL_INTERVAL_SECONDS"] = "86400",
                ["Logging:LogLevel:Default"] = "Warning",
            }));

            foreach (var run in new[] { "first start (ISEMS_ROUTER_IPS merged into the registry)", "second start (registry recovered)" })
            {
                var port = Ports.Free();
                var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder.FullName, RedirectStandardOutput = true, RedirectStandardError = true };
                start.ArgumentList.Add(typeof(CollectorApp).Assembly.Location);
                start.ArgumentList.Add("--urls");
                start.ArgumentList.Add($"http://127.0.0.1:{port}");
                var watch = Stopwatch.StartNew();
                using var process = Process.Start(start)!;
                _ = process.StandardOutput.ReadToEndAsync();
                var errors = process.StandardError.ReadToEndAsync();
                using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
                    while (!await IsReadyAsync(client))
                    {
                        if (process.HasExited) throw new InvalidOperationException($"the collector exited with {process.ExitCode}: {await errors}");
                        await Task.Delay(20);
                    }
                var ready = watch.Elapsed;
                var readyCpu = process.TotalProcessorTime;
                var readyResident = ResidentBytes(process.Id);
                var settled = await SettledAsync(process);
                var resident = ResidentBytes(process.Id);
                // ISEMS_BENCH_GCDUMP=<folder>: a heap dump of the idle collector per start, taken after its memory is
                // read (dotnet-gcdump on PATH), to see what the resident memory is made of.
                if (Environment.GetEnvironmentVariable("ISEMS_BENCH_GCDUMP") is { Length: > 0 } dumps)
                {
                    var dump = Path.Combine(dumps, run.StartsWith("first") ? "first.gcdump" : "second.gcdump");
                    using var gcdump = Process.Start("dotnet-gcdump", ["collect", "-p", process.Id.ToString(), "-o", dump]);
                    await gcdump.WaitForExitAsync();
                }
                Report.Row($"{run}: start to ready", ready.TotalMilliseconds, "ms", "process start to /readyz 200");
                Report.Row("  CPU time of the collector to ready", readyCpu.TotalMilliseconds, "ms", "user + system, all threads (the machine may be shared)");
                Report.Row("  resident memory of the collector, idle", resident / 1048576.0, "MiB",
                    $"{readyResident / 1048576.0:N0} MiB when it became ready, idle {settled.TotalSeconds:N1} s later; {resident / (double)nodes / 1024:N1} KiB a node");
                if (run.StartsWith("first"))
                {
                    Report.Summary($"start to ready, {nodes:N0} nodes, {(long)nodes * rowsPerNode:N0} rows", $"{ready.TotalSeconds:N1} s",
                        "first start, the collector as its own process", nodes == 10_000 ? "≤ 10 s" : "", nodes == 10_000 ? ready.TotalSeconds <= 10 : null);
                    Report.Summary($"memory, {nodes:N0} idle nodes", $"{resident / 1048576.0:N0} MiB resident", "once idle after ready",
                        nodes == 100_000 ? "≤ 1 GiB" : "", nodes == 100_000 ? resident <= 1L << 30 : null);
                }
                using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync();
                await process.WaitForExitAsync();
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<bool> IsReadyAsync(HttpClient client)
    {
        try
        {
            return (await client.GetAsync("/readyz")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false; // not listening yet
        }
    }

    /// <summary>
    /// Waits until the process is idle (under 50 ms of CPU in a second: 100,000 idle nodes' timers take about 40), at
    /// most a minute: what it holds then is what it keeps, not start-up work still under way.
    /// </summary>
    private static async Task<TimeSpan> SettledAsync(Process process)
    {
        var watch = Stopwatch.StartNew();
        var before = process.TotalProcessorTime;
        while (watch.Elapsed < TimeSpan.FromMinutes(1))
        {
            await Task.Delay(1000);
            process.Refresh();
            var now = process.TotalProcessorTime;
            if (now - before < TimeSpan.FromMilliseconds(50)) break;
            before = now;
        }
        return watch.Elapsed;
    }

    /// <summary>VmRSS of a process, from /proc.</summary>
    private static long ResidentBytes(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;

    /// <summary>
    /// Rows of every node, and the bookmark its last poll left (its log's URL, and the node id its lines carry), as a
    /// fleet that has been polled before.
    /// </summary>
    private static async Task SeedAsync(string databaseUrl, string folder, IReadOnlyList<string> urls, int rowsPerNode)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(databaseUrl, folder));
        store.Migrate();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var template = SimulatedLines.Router("template", now);
        const int perTransaction = 50_000;
        var groups = new List<IReadOnlyList<Measurement>>();
        var bookmarks = new List<LogBookmark>();
        var pending = 0;
        for (var n = 0; n < urls.Count; n++)
        {
            var id = $"node-{n:000000}";
            bookmarks.Add(new LogBookmark(urls[n], urls[n], 106L * rowsPerNode, null, new byte[32], 106, id));
            var group = new List<Measurement>(rowsPerNode);
            for (var i = 0; i < rowsPerNode; i++)
            {
                LineParser.TryParse(template.Replace("template", id).Replace($";{now};", $";{now - i * 60L};"), now, out var m, out _);
                group.Add(m!);
            }
            groups.Add(group);
            pending += rowsPerNode;
            if (pending < perTransaction) continue;
            await store.WriteAsync(groups, bookmarks);
            groups.Clear();
            bookmarks.Clear();
            pending = 0;
        }
        if (groups.Count > 0) await store.WriteAsync(groups, bookmarks);
    }
}
