using System.Diagnostics;
using Isems.LineFormat;
using Isems.Server.Hosting;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isems.Benchmarks;

/// <summary>
/// Time from start to ready, and resident memory, of the real host with many registered nodes (ISEMS_ROUTER_IPS, merged
/// into the registry) and many stored rows. The nodes' addresses lead nowhere and their interval is a day: idle nodes.
/// </summary>
internal static class StartBenchmark
{
    public static async Task RunAsync(int nodes, int rowsPerNode)
    {
        Report.Header($"start: {nodes:N0} registered idle nodes, {(long)nodes * rowsPerNode:N0} rows stored");
        var folder = Directory.CreateTempSubdirectory("isems-bench-start-");
        try
        {
            var databaseUrl = $"sqlite:///{Path.Combine(folder.FullName, "isems.db")}";
            var seeding = Stopwatch.StartNew();
            await SeedAsync(databaseUrl, folder.FullName, nodes, rowsPerNode);
            Console.WriteLine($"  (seeded in {seeding.Elapsed.TotalSeconds:0} s)");
            // Port 9 on a documentation address: nothing answers, and with a day's interval nothing is tried yet.
            var addresses = string.Join(",", Enumerable.Range(0, nodes).Select(i => $"http://192.0.2.{i % 250 + 1}:9/n{i}/ISEMS/ffopenmppt.log"));

            foreach (var run in new[] { "first start (ISEMS_ROUTER_IPS merged into the registry)", "second start (registry recovered)" })
            {
                Collect();
                var before = Environment.WorkingSet;
                var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
                var watch = Stopwatch.StartNew();
                var app = Build(databaseUrl, folder.FullName, addresses);
                await app.StartAsync();
                using (var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) })
                    while (!(await client.GetAsync("/readyz")).IsSuccessStatusCode) await Task.Delay(20);
                var ready = watch.Elapsed;
                Collect();
                var heap = GC.GetTotalMemory(forceFullCollection: true);
                Report.Row($"{run}: start to ready", ready.TotalMilliseconds, "ms");
                Report.Row("  resident memory of the whole process, once ready", Environment.WorkingSet / 1048576.0, "MiB",
                    $"{(Environment.WorkingSet - before) / 1048576.0:N0} MiB more than before this start");
                Report.Row("  managed heap in use, once ready", heap / 1048576.0, "MiB", $"{(heap - heapBefore) / (double)nodes:N0} bytes a node");
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static WebApplication Build(string databaseUrl, string folder, string addresses)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = databaseUrl,
            ["ISEMS_ROUTER_IPS"] = addresses,
            ["POLL_INTERVAL_SECONDS"] = "86400",
            ["AKKA_CONF"] = Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf"),
        });
        builder.WebHost.UseUrls($"http://127.0.0.1:{Ports.Free()}");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddCollectorApp();
        var app = builder.Build();
        app.MapCollectorApp();
        return app;
    }

    private static async Task SeedAsync(string databaseUrl, string folder, int nodes, int rowsPerNode)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(databaseUrl, folder));
        store.Migrate();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var template = SimulatedLines.Router("template", now);
        const int perTransaction = 50_000;
        var groups = new List<IReadOnlyList<Measurement>>();
        var pending = 0;
        for (var n = 0; n < nodes; n++)
        {
            var id = $"node-{n:000000}";
            var group = new List<Measurement>(rowsPerNode);
            for (var i = 0; i < rowsPerNode; i++)
            {
                LineParser.TryParse(template.Replace("template", id).Replace($";{now};", $";{now - i * 60L};"), now, out var m, out _);
                group.Add(m!);
            }
            groups.Add(group);
            pending += rowsPerNode;
            if (pending < perTransaction) continue;
            await store.WriteAsync(groups);
            groups.Clear();
            pending = 0;
        }
        if (groups.Count > 0) await store.WriteAsync(groups);
    }
}
