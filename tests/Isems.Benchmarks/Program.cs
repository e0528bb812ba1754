using Isems.Benchmarks;

// dotnet run -c Release --project tests/Isems.Benchmarks -- [parse] [store] [poll] [mqtt] [api] [--messages 100000] [--nodes 1000] [--lines 3657]
//   [--rows-per-node 10000] [--seconds 10] [start] [--idle-nodes 10000] [--idle-rows-per-node 1000]
// Prints figures beside a baseline measured in the same run on the same machine; asserts nothing.
var which = args.Where(a => !a.StartsWith("--")).ToHashSet();
var all = which.Count == 0;
var nodes = ArgValue(args, "--nodes", 1000);
// 3,657 + the three lines the steady cycles append = a full 3,660-line log (one more and the log rotates).
var lines = ArgValue(args, "--lines", 3657);

Console.WriteLine($"ISEMS collector benchmarks — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
if (all || which.Contains("parse")) ParseBenchmark.Run();
double? bareInsertRate = all || which.Contains("store") ? await StoreBenchmark.RunAsync() : null;
if (all || which.Contains("store") || which.Contains("store-pg")) await PostgresStoreBenchmark.RunAsync();
if (all || which.Contains("poll")) await PollCycleBenchmark.RunAsync(nodes, lines, bareInsertRate);
if (all || which.Contains("mqtt")) await MqttBenchmark.RunAsync(ArgValue(args, "--messages", 100_000));
if (all || which.Contains("api")) await ApiBenchmark.RunAsync(ArgValue(args, "--rows-per-node", 10_000), ArgValue(args, "--seconds", 10));
if (all || which.Contains("start")) await StartBenchmark.RunAsync(ArgValue(args, "--idle-nodes", 10_000), ArgValue(args, "--idle-rows-per-node", 1_000));
return 0;

static int ArgValue(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}
