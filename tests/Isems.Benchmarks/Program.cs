using Isems.Benchmarks;

// dotnet run -c Release --project tests/Isems.Benchmarks -- [parse] [store] [store-pg] [poll] [poll-pg] [poll-traced] [mqtt] [api] [start] [history] [alerts]
//   alerts: [--alert-nodes 10000]
//   rollup-cost / rollup-cost-pg: [--nodes 1000] [--lines 3657] [--rounds 2]; migrate: [--migrate-rows 10000000]
//   poll-pg: [--no-old-path] (the first cycle on SQLite, the earlier PostgreSQL path, COPY always through staging, the default)
//   cluster: [--cluster-nodes 1000] [--cluster-interval S] (three members and one process on PostgreSQL; the interval 10 s at
//     1,000 nodes, else nodes/30 s; not part of a run of everything)
//   history: [--history-nodes 1000] [--rows-per-node 10000] [--year-rows 525600] [--no-write-path] (not part of a run of everything)
//   [--messages 100000] [--nodes 1000] [--lines 3657] [--rows-per-node 10000] [--seconds 10] [--idle-nodes 10000] [--idle-rows-per-node 1000]
// Prints figures beside a baseline measured in the same run on the same machine, then one summary table with the
// targets; asserts nothing. Without --nodes/--lines, poll runs both targeted fleets; without --idle-nodes, start both.
var which = args.Where(a => !a.StartsWith("--")).ToHashSet();
var all = which.Count == 0;
var nodes = ArgValue(args, "--nodes", 1000);
// 3,657 + the three lines the steady cycles append = a full 3,660-line log (one more and the log rotates).
var lines = ArgValue(args, "--lines", 3657);

Console.WriteLine($"ISEMS collector benchmarks — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
if (all || which.Contains("parse")) ParseBenchmark.Run();
double? bareInsertRate = all || which.Contains("store") ? await StoreBenchmark.RunAsync() : null;
if (all || which.Contains("store") || which.Contains("store-pg")) await PostgresStoreBenchmark.RunAsync();
if (which.Contains("poll-pg"))
    await PollCycleBenchmark.RunPostgresAsync(nodes, lines, withOldPath: !args.Contains("--no-old-path"));
if (all || which.Contains("poll"))
{
    if (args.Contains("--nodes") || args.Contains("--lines"))
        await PollCycleBenchmark.RunAsync(nodes, lines, bareInsertRate);
    else
    {
        // The two targets: 1,000 routers' full logs, and 10,000 nodes' short ones.
        await PollCycleBenchmark.RunAsync(1000, 3657, bareInsertRate);
        await PollCycleBenchmark.RunAsync(10_000, 5, bareInsertRate);
    }
}
if (which.Contains("poll-traced"))
    await TracingBenchmark.RunAsync(nodes, lines, ArgValue(args, "--rounds", 2));
if (all || which.Contains("mqtt")) await MqttBenchmark.RunAsync(ArgValue(args, "--messages", 100_000));
if (all || which.Contains("alerts")) await AlertsBenchmark.RunAsync(ArgValue(args, "--alert-nodes", 10_000));
if (all || which.Contains("api")) await ApiBenchmark.RunAsync(ArgValue(args, "--rows-per-node", 10_000), ArgValue(args, "--seconds", 10));
if (which.Contains("history"))
    await HistoryBenchmark.RunAsync(ArgValue(args, "--history-nodes", 1000), ArgValue(args, "--rows-per-node", 10_000),
        ArgValue(args, "--year-rows", 525_600), ArgValue(args, "--seconds", 10), writePath: !args.Contains("--no-write-path"));
// Issue 11's write-path cost of the rollups alone (first cycle without and with, alternated), and migration step 5.
if (which.Contains("rollup-cost"))
    await HistoryBenchmark.WritePathAsync(nodes, lines, postgres: false, ArgValue(args, "--rounds", 2));
if (which.Contains("rollup-cost-pg"))
    await HistoryBenchmark.WritePathAsync(nodes, lines, postgres: true, ArgValue(args, "--rounds", 2));
if (which.Contains("migrate"))
    await HistoryBenchmark.MigrationAsync(ArgValue(args, "--migrate-rows", 10_000_000));
if (all || which.Contains("start"))
{
    if (args.Contains("--idle-nodes"))
        await StartBenchmark.RunAsync(ArgValue(args, "--idle-nodes", 10_000), ArgValue(args, "--idle-rows-per-node", 1_000));
    else
    {
        // The two targets: start to ready with 10,000 nodes and 10 M rows; memory with 100,000 idle nodes.
        await StartBenchmark.RunAsync(10_000, 1_000);
        await StartBenchmark.RunAsync(100_000, 1);
    }
}
// Issue 15: three collector processes as one cluster beside one process, on the same PostgreSQL (not part of a run of everything).
if (which.Contains("cluster"))
    foreach (var size in args.Contains("--cluster-nodes") ? [ArgValue(args, "--cluster-nodes", 1000)] : new[] { 1000 })
        await ClusterBenchmark.RunAsync(size, args.Contains("--cluster-interval") ? ArgValue(args, "--cluster-interval", 10) : null);
Report.PrintSummary();
return 0;

static int ArgValue(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}
