using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Isems.LineFormat;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Isems.Server.Hosting;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Benchmarks;

/// <summary>
/// Requests per second and p99 latency of the two endpoints the isems-app calls, measured by wrk in another process
/// against the real host, beside the same host answering a cached byte array of the same size (the ceiling of
/// Kestrel, loopback and wrk on this machine).
/// </summary>
internal static partial class ApiBenchmark
{
    private const string Wrk = "wrk";

    public static async Task RunAsync(int rowsPerNode, int seconds)
    {
        Report.Header($"api: wrk -t2 -c16 -d{seconds}s --latency, in another process, against the real host");
        if (!File.Exists("/usr/bin/wrk"))
        {
            Console.WriteLine("  skipped: wrk is not installed (apt-get install wrk)");
            return;
        }

        await using (var small = await Host.StartAsync(nodes: 100, rowsPerNode: 1))
            await CompareAsync(small, "/measurements/latest?all=true", "latest?all=true, 100 nodes", seconds, target: 10_000);

        var seeding = Stopwatch.StartNew();
        await using var large = await Host.StartAsync(nodes: 1000, rowsPerNode);
        Console.WriteLine($"  ({1000L * rowsPerNode:N0} rows stored for the next two, in {seeding.Elapsed.TotalSeconds:0} s)");
        var latest = await CompareAsync(large, "/measurements/latest?all=true", "latest?all=true, 1,000 nodes", seconds, target: 2_000);
        // /nodes beside /measurements/latest in the same run: both are read models the node actors keep current.
        var nodes = await CompareAsync(large, "/nodes", "/nodes, 1,000 nodes", seconds, target: 0.8 * latest);
        // On a shared machine one 10 s run after the other differs by more than the two endpoints do: the ratio is
        // taken from short runs of each, taking turns, summed.
        var (nodesTotal, latestTotal) = (0.0, 0.0);
        for (var turn = 0; turn < 6; turn++)
        {
            latestTotal += (await LoadAsync(new Uri(large.Url, "/measurements/latest?all=true"), 3)).Rate;
            nodesTotal += (await LoadAsync(new Uri(large.Url, "/nodes"), 3)).Rate;
        }
        Report.Row("/nodes against latest?all=true, 1,000 nodes, 6 turns of 3 s each", 100 * nodesTotal / latestTotal, "%",
            $"{nodesTotal / 6:N0} against {latestTotal / 6:N0} req/s");
        Report.Summary("`/nodes` against `/measurements/latest?all=true`, 1,000 nodes (taking turns)", $"{100 * nodesTotal / latestTotal:N0} %",
            $"{nodesTotal / 6:N0} against {latestTotal / 6:N0} req/s", "≥ 80 %", nodesTotal >= 0.8 * latestTotal);
        await CompareAsync(large, "/measurements/node-0500/latest", $"{{id}}/latest, 1,440 of {1000L * rowsPerNode:N0} rows", seconds, target: 1_000);
        await BreakdownAsync(large);
    }

    /// <summary>Where a history request's time goes: the query, and the JSON, each alone.</summary>
    private static async Task BreakdownAsync(Host host)
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(host.DatabaseUrl, Path.GetTempPath()));
        var rows = await store.HistoryAsync("node-0500", 1440);
        var query = Report.Best(20, () => store.HistoryAsync("node-0500", 1440).GetAwaiter().GetResult());
        var json = Report.Best(20, () => Isems.Api.Json.MeasurementJsonWriter.ToUtf8(rows));
        Report.Row("  of which: the SQL query (1,440 rows)", query.TotalMilliseconds * 1000, "µs");
        Report.Row("  of which: the JSON (1,440 rows)", json.TotalMilliseconds * 1000, "µs");
    }

    private static async Task<double> CompareAsync(Host host, string path, string what, int seconds, double target)
    {
        using var client = new HttpClient { BaseAddress = host.Url };
        var size = (await client.GetByteArrayAsync(path)).Length;
        // A short run of each first, unmeasured: the runtime compiles the hot path again, optimised, after a while.
        await LoadAsync(new Uri(host.Url, path), 3);
        await LoadAsync(new Uri(host.Url, $"/ceiling/{size}"), 3);
        var (rate, p99) = await LoadAsync(new Uri(host.Url, path), seconds);
        var (ceiling, ceilingP99) = await LoadAsync(new Uri(host.Url, $"/ceiling/{size}"), seconds);
        Report.Row($"{what} ({size / 1024.0:N0} KiB)", rate, "req/s", $"p99 {p99:N1} ms; {rate / ceiling:P0} of the ceiling");
        Report.Row($"baseline: the same host, a cached {size / 1024.0:N0} KiB array", ceiling, "req/s", $"p99 {ceilingP99:N1} ms");
        Report.Summary($"`{path}`, {what}", $"{rate:N0} req/s, p99 {p99:N1} ms", $"a cached array of the same size: {ceiling:N0} req/s ({rate / ceiling:P0})",
            $"≥ {target:N0} req/s", rate >= target);
        return rate;
    }

    internal static async Task<(double Rate, double P99Milliseconds)> LoadAsync(Uri url, int seconds, params string[] headers)
    {
        var arguments = new List<string> { "-t2", "-c16", $"-d{seconds}s", "--latency" };
        foreach (var header in headers) arguments.AddRange(["-H", header]);
        arguments.Add(url.ToString());
        var start = new ProcessStartInfo(Wrk, arguments) { RedirectStandardOutput = true };
        using var wrk = Process.Start(start)!;
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var rate = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var p99 = P99().Match(output);
        var value = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture);
        var milliseconds = p99.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
        if (output.Contains("Non-2xx")) Console.WriteLine($"  warning: wrk saw errors for {url}:\n{output}");
        return (rate, milliseconds);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"99%\s+([\d.]+)(us|ms|s)")]
    private static partial Regex P99();

    /// <summary>The collector's web host, as Program builds it, on a database seeded for the run, plus the ceiling endpoint.</summary>
    internal sealed class Host : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly DirectoryInfo _folder;

        private Host(WebApplication app, DirectoryInfo folder, Uri url, string databaseUrl)
        {
            _app = app;
            _folder = folder;
            Url = url;
            DatabaseUrl = databaseUrl;
        }

        public Uri Url { get; }

        public string DatabaseUrl { get; }

        public static Task<Host> StartAsync(int nodes, int rowsPerNode) =>
            StartAsync((databaseUrl, folder) => SeedAsync(databaseUrl, folder, nodes, rowsPerNode));

        /// <summary>The host on a database that <paramref name="seed"/> fills first (given the DATABASE_URL and the folder).</summary>
        public static async Task<Host> StartAsync(Func<string, string, Task> seed)
        {
            var folder = Directory.CreateTempSubdirectory("isems-bench-api-");
            var databaseUrl = $"sqlite:///{Path.Combine(folder.FullName, "isems.db")}";
            await seed(databaseUrl, folder.FullName);

            var url = new Uri($"http://127.0.0.1:{Ports.Free()}");
            // Named as the collector, so the dashboard finds the collector's static-asset manifest beside this program.
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder.FullName, ApplicationName = "Isems.Server" });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DATABASE_URL"] = databaseUrl,
                ["POLL_INTERVAL_SECONDS"] = "86400",
                ["AKKA_CONF"] = Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf"),
            });
            builder.WebHost.UseUrls(url.ToString());
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.AddCollectorApp();
            var app = builder.Build();
            app.MapCollectorApp();
            var arrays = new System.Collections.Concurrent.ConcurrentDictionary<int, byte[]>();
            app.MapGet("/ceiling/{size:int}", (int size) =>
                Results.Bytes(arrays.GetOrAdd(size, n => Enumerable.Repeat((byte)'x', n).ToArray()), "application/json"));
            await app.StartAsync();
            return new Host(app, folder, url, databaseUrl);
        }

        private static async Task SeedAsync(string databaseUrl, string folder, int nodes, int rowsPerNode)
        {
            using var store = new MeasurementStore(DatabaseTarget.Parse(databaseUrl, folder));
            store.Migrate();
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            // Lines of every node a minute apart, newest now; written a block of rows at a time, as a busy writer would.
            const int block = 100;
            for (var first = 0; first < rowsPerNode; first += block)
            {
                var groups = Enumerable.Range(0, nodes).Select(n => Enumerable.Range(first, Math.Min(block, rowsPerNode - first))
                    .Select(i => Parse(SimulatedLines.Router($"node-{n:0000}", now - i * 60L, n), now)).ToList()).ToArray();
                await store.WriteAsync(groups);
            }
        }

        private static Measurement Parse(string line, long now) =>
            LineParser.TryParse(line, now, out var measurement, out var rejection) ? measurement! : throw new InvalidOperationException(rejection.ToString());

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _folder.Delete(recursive: true);
        }
    }
}
