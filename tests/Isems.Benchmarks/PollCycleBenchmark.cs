using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Microsoft.Data.Sqlite;

namespace Isems.Benchmarks;

/// <summary>
/// Poll cycles over a fleet of simulated nodes through the real actors, fetcher, writer and a SQLite file: the first
/// cycle (every line new), then steady cycles (one new line per node) with Range honoured and with it ignored.
/// </summary>
internal static class PollCycleBenchmark
{
    /// <param name="postgres">A PostgreSQL server the benchmark starts instead of a SQLite file.</param>
    /// <param name="rollups">false: the store keeps no rollups, to measure what they cost (issue 11).</param>
    /// <param name="postgresWrites">How the PostgreSQL writer sends batches (null: the collector's default).</param>
    /// <returns>The first cycle's wall time and CPU time (collector and simulator together).</returns>
    public static async Task<(TimeSpan Wall, TimeSpan Cpu)> RunAsync(int nodeCount, int historyLines, double? bareInsertRate, bool postgres = false,
        bool rollups = true, bool firstCycleOnly = false, PostgresWriteOptions? postgresWrites = null)
    {
        await using var fleet = SimulatedFleet.Start();
        for (var i = 0; i < nodeCount; i++) fleet.AddNode($"bench-{i:00000}", NodeKind.Router, historyLines);
        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        var databaseUrl = postgres
            ? await (await PostgresServer.SharedAsync()).CreateDatabaseAsync()
            : $"sqlite:///{Path.Combine(folder.FullName, "poll.db")}";
        var database = postgres ? $"PostgreSQL ({Describe(postgresWrites ?? PostgresWriteOptions.Default)})" : "SQLite";
        using var store = new MeasurementStore(DatabaseTarget.Parse(databaseUrl, folder.FullName), rollups, postgresWrites ?? PostgresWriteOptions.Default);
        store.Migrate();

        var polling = new PollingOptions { Scheduled = false, Timeout = TimeSpan.FromSeconds(120) };
        var collector = Collector.Start(store, polling, fleet, bookmarks: []);

        Report.Header($"poll: one cycle over {nodeCount:N0} simulated routers with {historyLines:N0}-line logs, {database}, real actors{(rollups ? "" : ", no rollups")}");
        var (stored, firstCycle, firstCpu) = await CycleAsync("first cycle (every line new)", fleet, collector.Nodes, postgres);
        FirstCycleServerCpu = postgres ? _lastServerCpu : null;
        // The targets are the embedded default's; PostgreSQL's figure is printed beside them.
        var targeted = !postgres && rollups && !firstCycleOnly && (nodeCount, historyLines) is (1000, 3657) or (10_000, 5);
        if (!firstCycleOnly && !postgres) Report.Summary($"first poll cycle, {nodeCount:N0} nodes × {historyLines:N0} lines, {database}", $"{firstCycle.TotalSeconds:N1} s",
            bareInsertRate is { } bare ? $"the fastest bare insert loop would need {stored / bare:N1} s for its lines" : "",
            targeted ? "≤ 10 s" : "", targeted ? firstCycle.TotalSeconds <= 10 : null);
        if (bareInsertRate is { } rate)
            Report.Row("beside: the fastest bare insert loop would need, for these lines", stored / rate * 1000, "ms",
                "(its rate measured above, in this run)");

        if (!firstCycleOnly && Environment.GetEnvironmentVariable("ISEMS_BENCH_FIRST_CYCLE_ONLY") is null)
        {
            foreach (var node in fleet.Nodes) node.Append();
            await CycleAsync("steady cycle, Range honoured (1 new line per node)", fleet, collector.Nodes, postgres);

            // A restart: new actors, the same database; each log is read on from the bookmark saved with its lines.
            await collector.StopAsync();
            collector = Collector.Start(store, polling, fleet, await store.BookmarksAsync());
            await CycleAsync("first cycle after a collector restart (no new line; logs read on from their saved bookmarks)", fleet, collector.Nodes, postgres);

            foreach (var node in fleet.Nodes)
            {
                node.HonorRange = false;
                node.Append();
            }
            await CycleAsync("first cycle after the nodes stop honouring Range (whole log, nothing known of it yet)", fleet, collector.Nodes, postgres);

            foreach (var node in fleet.Nodes) node.Append();
            await CycleAsync("steady cycle, Range ignored (whole log sent, only its new end parsed)", fleet, collector.Nodes, postgres);
        }

        await collector.StopAsync();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
        return (firstCycle, firstCpu);
    }

    public static string Describe(PostgresWriteOptions o) => o.Copy
        ? $"binary COPY {(o.Direct ? "straight into the table when every row is new, else " : "")}into staging, {o.Connections} writer connection{(o.Connections == 1 ? "" : "s")}"
        : "unnest arrays, ON CONFLICT DO NOTHING, 1 connection (the earlier path)";

    /// <summary>
    /// The PostgreSQL first cycle beside its baselines in the same run: the same cycle on SQLite, every row through the
    /// staging table, and the earlier write path (unnest with ON CONFLICT, one connection); then the default's later cycles.
    /// </summary>
    public static async Task RunPostgresAsync(int nodeCount, int historyLines, bool withOldPath)
    {
        var sqlite = await RunAsync(nodeCount, historyLines, null, firstCycleOnly: true);
        string? old = null;
        if (withOldPath)
        {
            var o = await RunAsync(nodeCount, historyLines, null, postgres: true, firstCycleOnly: true, postgresWrites: PostgresWriteOptions.Unnest);
            old = $"; the earlier path {Figure(o)}";
        }
        // Every row through the staging table (its NOT EXISTS probe per row), as before the direct COPY.
        var staged = await RunAsync(nodeCount, historyLines, null, postgres: true, firstCycleOnly: true, postgresWrites: new PostgresWriteOptions(Direct: false));
        var stagedFigure = Figure(staged);
        var now = await RunAsync(nodeCount, historyLines, null, postgres: true);
        var beside = $"SQLite {sqlite.Wall.TotalSeconds:N1} s (CPU {sqlite.Cpu.TotalSeconds:N1} s); always through staging {stagedFigure}{old}";
        var targeted = (nodeCount, historyLines) == (1000, 3657);
        Report.Summary($"first poll cycle, {nodeCount:N0} nodes × {historyLines:N0} lines, PostgreSQL ({Describe(PostgresWriteOptions.Default)})",
            Figure(now), beside, targeted ? "≤ 12 s" : "", targeted ? now.Wall.TotalSeconds <= 12 : null);

        static string Figure((TimeSpan Wall, TimeSpan Cpu) r) =>
            $"{r.Wall.TotalSeconds:N1} s (CPU {r.Cpu.TotalSeconds:N1} s, server {FirstCycleServerCpu?.TotalSeconds:N1} s)";
    }

    /// <summary>The collector's actors over the store: a writer and the node manager, told to poll every node of the fleet.</summary>
    private sealed record Collector(ActorSystem System, IActorRef Nodes)
    {
        public static Collector Start(MeasurementStore store, PollingOptions polling, SimulatedFleet fleet, IReadOnlyCollection<LogBookmark> bookmarks)
        {
            var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
            var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
            var nodes = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling, bookmarks: bookmarks), "nodes");
            foreach (var node in fleet.Nodes) nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));
            return new Collector(system, nodes);
        }

        public async Task StopAsync()
        {
            await System.Terminate();
            System.Dispose();
        }
    }

    /// <summary>The PostgreSQL server's CPU time (all its processes) during the last first cycle on PostgreSQL.</summary>
    public static TimeSpan? FirstCycleServerCpu { get; private set; }

    private static TimeSpan _lastServerCpu;

    /// <summary>
    /// CPU time of this process's PostgreSQL server (the postmaster and its backends, from /proc): on a machine shared
    /// with other work, CPU time is steadier than wall time, and it shows whose work a cycle was.
    /// </summary>
    private static TimeSpan ServerCpu()
    {
        var ticks = 0L;
        var postmasters = new HashSet<int>();
        foreach (var dir in Directory.GetDirectories("/tmp", $"isems-pg-{Environment.ProcessId}-*"))
            if (File.Exists(Path.Combine(dir, "data", "postmaster.pid")) &&
                int.TryParse(File.ReadLines(Path.Combine(dir, "data", "postmaster.pid")).First(), out var pid))
                postmasters.Add(pid);
        foreach (var proc in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(proc, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            // Fields after the command's closing parenthesis: state, ppid, …; utime and stime are the 14th and 15th fields.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (postmasters.Contains(pid) || postmasters.Contains(int.Parse(fields[1])))
                ticks += long.Parse(fields[11]) + long.Parse(fields[12]);
        }
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    private static async Task<(long Stored, TimeSpan Wall, TimeSpan Cpu)> CycleAsync(string label, SimulatedFleet fleet, IActorRef nodes, bool postgres)
    {
        var serverBefore = postgres ? ServerCpu() : TimeSpan.Zero;
        var bytesBefore = fleet.BytesServed;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(fleet.Nodes.Select(n => nodes.Ask<PollOutcome>(new PollNow(n.NodeId), TimeSpan.FromMinutes(10))));
        var wall = watch.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;

        var failed = outcomes.Count(o => !o.Succeeded);
        var stored = outcomes.Sum(o => (long)o.Stored);
        var duplicates = outcomes.Sum(o => (long)o.Duplicates);
        Console.WriteLine($"  {label}");
        Report.Row("wall time", wall.TotalMilliseconds, "ms", $"CPU {cpu.TotalMilliseconds:N0} ms (collector and simulator together)");
        if (postgres)
        {
            _lastServerCpu = ServerCpu() - serverBefore;
            Report.Row("PostgreSQL server's CPU time", _lastServerCpu.TotalMilliseconds, "ms", "(its processes, from /proc)");
        }
        Report.Row("lines stored", stored, "lines", $"{stored / wall.TotalSeconds:N0} lines/s; duplicates {duplicates:N0}; failed polls {failed}");
        Report.Row("bytes fetched", fleet.BytesServed - bytesBefore, "bytes");
        return (stored, wall, cpu);
    }
}
