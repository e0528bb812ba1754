using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Isems.Actors;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Trace;

namespace Isems.Benchmarks;

/// <summary>
/// What tracing costs: the first poll cycle with no tracer (as the collector runs without OTEL_EXPORTER_OTLP_ENDPOINT)
/// beside the same cycle with spans exported over OTLP/HTTP to a receiver on loopback, alternated so that a busy
/// moment of the machine does not fall on one side only.
/// </summary>
internal static class TracingBenchmark
{
    public static async Task RunAsync(int nodeCount, int historyLines, int rounds = 2)
    {
        Report.Header($"poll-traced: the first cycle over {nodeCount:N0} routers × {historyLines:N0} lines, without and with OTLP tracing");
        // What a span costs a poll when nobody listens: the call that finds no listener, many times over.
        const int calls = 10_000_000;
        var idle = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++) CollectorTracing.Start("poll", parent: null).End();
        idle.Stop();
        var idleSpanNs = idle.Elapsed.TotalNanoseconds / calls;
        Report.Row("a span without a listener (start and end)", idleSpanNs, "ns", "a poll starts 4 (poll, fetch, parse, write)");

        await using var sink = await OtlpSink.StartAsync();
        var untraced = new List<TimeSpan>();
        var cpuPerPoll = new List<double>();
        var traced = new List<TimeSpan>();
        for (var round = 0; round < rounds; round++)
            foreach (var tracing in new[] { false, true })
            {
                using var provider = tracing
                    ? Sdk.CreateTracerProviderBuilder().AddSource(CollectorTracing.SourceName)
                        .AddOtlpExporter(o => { o.Endpoint = new Uri(sink.Endpoint + "/v1/traces"); o.Protocol = OtlpExportProtocol.HttpProtobuf; })
                        .Build()
                    : null;
                var spansBefore = sink.Requests;
                var (wall, cpu, stored) = await FirstCycleAsync(nodeCount, historyLines);
                provider?.ForceFlush();
                (tracing ? traced : untraced).Add(wall);
                if (!tracing) cpuPerPoll.Add(cpu.TotalNanoseconds / nodeCount);
                Report.Row(tracing ? "traced (OTLP/HTTP to loopback)" : "untraced (no endpoint: no tracer)", wall.TotalMilliseconds, "ms",
                    $"CPU {cpu.TotalMilliseconds:N0} ms; {stored:N0} lines; {(tracing ? $"{sink.Requests - spansBefore} export requests" : "nothing exported")}");
            }
        var baseline = untraced.Min();
        var withTraces = traced.Min();
        Report.Summary($"first poll cycle with OTLP tracing, {nodeCount:N0} × {historyLines:N0}", $"{withTraces.TotalSeconds:N2} s (best of {rounds})",
            $"untraced in the same run: {baseline.TotalSeconds:N2} s ({withTraces / baseline * 100:N0}%)", "", null);
        Report.Summary("spans of a poll without a listener (no OTLP endpoint)", $"{4 * idleSpanNs:N0} ns a poll",
            $"the CPU of a poll of a full log in the same run: {cpuPerPoll.Min() / 1000:N0} µs ({4 * idleSpanNs / cpuPerPoll.Min() * 100:N4}%)");
    }

    private static async Task<(TimeSpan Wall, TimeSpan Cpu, long Stored)> FirstCycleAsync(int nodeCount, int historyLines)
    {
        await using var fleet = SimulatedFleet.Start();
        for (var i = 0; i < nodeCount; i++) fleet.AddNode($"bench-{i:00000}", NodeKind.Router, historyLines);
        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Path.Combine(folder.FullName, "poll.db")}", folder.FullName));
        store.Migrate();
        var polling = new PollingOptions { Scheduled = false, Timeout = TimeSpan.FromSeconds(120) };
        var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
        var nodes = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling), "nodes");
        foreach (var node in fleet.Nodes) nodes.Tell(new StartPolling(node.NodeId, node.LogUrl));

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(fleet.Nodes.Select(n => nodes.Ask<PollOutcome>(new PollNow(n.NodeId), TimeSpan.FromMinutes(10))));
        var wall = watch.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;

        await system.Terminate();
        system.Dispose();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
        return (wall, cpu, outcomes.Sum(o => (long)o.Stored));
    }

    /// <summary>An OTLP/HTTP endpoint that takes the spans and throws them away.</summary>
    private sealed class OtlpSink : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private long _requests;

        private OtlpSink(WebApplication app, string endpoint)
        {
            _app = app;
            Endpoint = endpoint;
        }

        public string Endpoint { get; }
        public long Requests => Interlocked.Read(ref _requests);

        public static async Task<OtlpSink> StartAsync()
        {
            var endpoint = $"http://127.0.0.1:{Ports.Free()}";
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls(endpoint);
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var sink = new OtlpSink(app, endpoint);
            app.MapPost("/v1/traces", async (HttpRequest request) =>
            {
                await request.Body.CopyToAsync(Stream.Null);
                Interlocked.Increment(ref sink._requests);
                return Results.Bytes([], "application/x-protobuf");
            });
            await app.StartAsync();
            return sink;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
