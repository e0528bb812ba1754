using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Simulator;
using Isems.Storage;
using Microsoft.Data.Sqlite;

namespace Isems.Benchmarks;

/// <summary>
/// Poll cycles over a fleet of simulated nodes through the real actors, fetcher, writer and a SQLite file: the first
/// cycle (every line new), then steady cycles (one new line per node) with Range honoured and with it ignored.
/// </summary>
internal static class PollCycleBenchmark
{
    public static async Task RunAsync(int nodeCount, int historyLines, double? bareInsertRate)
    {
        await using var fleet = SimulatedFleet.Start();
        for (var i = 0; i < nodeCount; i++) fleet.AddNode($"bench-{i:00000}", NodeKind.Router, historyLines);
        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Path.Combine(folder.FullName, "poll.db")}", folder.FullName));
        store.Migrate();

        var polling = new PollingOptions { Scheduled = false, Timeout = TimeSpan.FromSeconds(120) };
        using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
        var nodes = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling), "nodes");
        foreach (var node in fleet.Nodes) nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        Report.Header($"poll: one cycle over {nodeCount:N0} simulated routers with {historyLines:N0}-line logs, SQLite, real actors");
        var (stored, firstCycle) = await CycleAsync("first cycle (every line new)", fleet, nodes);
        var targeted = (nodeCount, historyLines) is (1000, 3657) or (10_000, 5);
        Report.Summary($"first poll cycle, {nodeCount:N0} nodes × {historyLines:N0} lines", $"{firstCycle.TotalSeconds:N1} s",
            bareInsertRate is { } bare ? $"the fastest bare insert loop would need {stored / bare:N1} s for its lines" : "",
            targeted ? "≤ 10 s" : "", targeted ? firstCycle.TotalSeconds <= 10 : null);
        if (bareInsertRate is { } rate)
            Report.Row("beside: the fastest bare insert loop would need, for these lines", stored / rate * 1000, "ms",
                "(its rate measured above, in this run)");

        if (Environment.GetEnvironmentVariable("ISEMS_BENCH_FIRST_CYCLE_ONLY") is null)
            await SteadyCyclesAsync(fleet, nodes);

        await system.Terminate();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }

    private static async Task SteadyCyclesAsync(SimulatedFleet fleet, IActorRef nodes)
    {
        foreach (var node in fleet.Nodes) node.Append();
        await CycleAsync("steady cycle, Range honoured (1 new line per node)", fleet, nodes);

        foreach (var node in fleet.Nodes)
        {
            node.HonorRange = false;
            node.Append();
        }
        await CycleAsync("first cycle after the nodes stop honouring Range (whole log, nothing known of it yet)", fleet, nodes);

        foreach (var node in fleet.Nodes) node.Append();
        await CycleAsync("steady cycle, Range ignored (whole log sent, only its new end parsed)", fleet, nodes);
    }

    private static async Task<(long Stored, TimeSpan Wall)> CycleAsync(string label, SimulatedFleet fleet, IActorRef nodes)
    {
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
        Report.Row("lines stored", stored, "lines", $"{stored / wall.TotalSeconds:N0} lines/s; duplicates {duplicates:N0}; failed polls {failed}");
        Report.Row("bytes fetched", fleet.BytesServed - bytesBefore, "bytes");
        return (stored, wall);
    }
}
