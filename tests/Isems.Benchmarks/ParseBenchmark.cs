using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Isems.LineFormat;
using Isems.Simulator;

namespace Isems.Benchmarks;

/// <summary>
/// Lines parsed per second, measured by BenchmarkDotNet (in this process, its short job), beside a loop that only
/// finds the lines and their fields.
/// </summary>
internal static class ParseBenchmark
{
    public static void Run()
    {
        var config = ManualConfig.CreateEmpty()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddLogger(NullLogger.Instance)
            .WithOptions(ConfigOptions.DisableLogFile);
        var summary = BenchmarkRunner.Run<ParserBenchmarks>(config);
        double LinesPerSecond(string method) => ParserBenchmarks.Count / (summary.Reports
            .Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics!.Mean / 1e9);
        var parse = LinesPerSecond(nameof(ParserBenchmarks.Parse));
        var split = LinesPerSecond(nameof(ParserBenchmarks.SplitOnly));

        Report.Header($"parse: {ParserBenchmarks.Count:N0} lines of 3,660-line router logs, BenchmarkDotNet (short job, in process), mean");
        Report.Row("LineParser.ParsePayload (validate, numbers, Measurement)", parse, "lines/s");
        Report.Row("baseline: split lines and fields only", split, "lines/s", $"parser at {parse / split:P0} of the split-only rate");
        Report.Summary("parse router logs", $"{parse:N0} lines/s", $"split-only loop {split:N0} lines/s");
    }
}

public class ParserBenchmarks
{
    public const int Count = 200_000;
    private byte[] _payload = [];
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var text = new StringBuilder();
        // Logs as routers serve them: one node's 3,660 lines after another's.
        for (var i = 0; i < Count; i++)
            text.Append(SimulatedLines.Router($"node-{i / 3660:000}", _now - (Count - i) * 60L, i / 3660)).Append('\n');
        _payload = Encoding.UTF8.GetBytes(text.ToString());
        if (Parse() != Count || SplitOnly() != Count * 19L) throw new InvalidOperationException("benchmark input is wrong");
    }

    [Benchmark]
    public int Parse() => LineParser.ParsePayload(_payload, _now).Lines.Count;

    [Benchmark(Baseline = true)]
    public long SplitOnly()
    {
        ReadOnlySpan<byte> payload = _payload;
        long fields = 0;
        while (!payload.IsEmpty)
        {
            var end = payload.IndexOf((byte)'\n');
            var line = end < 0 ? payload : payload[..end];
            payload = end < 0 ? default : payload[(end + 1)..];
            fields += line.Count((byte)';') + 1;
        }
        return fields;
    }
}
