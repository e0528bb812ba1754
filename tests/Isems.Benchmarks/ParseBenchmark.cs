using System.Text;
using Isems.LineFormat;
using Isems.Simulator;

namespace Isems.Benchmarks;

/// <summary>Lines parsed per second, beside a loop that only finds the lines and their fields.</summary>
internal static class ParseBenchmark
{
    public static void Run()
    {
        const int count = 200_000;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var text = new StringBuilder();
        // Logs as routers serve them: one node's 3,660 lines after another's.
        for (var i = 0; i < count; i++)
            text.Append(SimulatedLines.Router($"node-{i / 3660:000}", now - (count - i) * 60L, i / 3660)).Append('\n');
        var payload = Encoding.UTF8.GetBytes(text.ToString());

        var fields = 0L;
        var split = Report.Best(5, () => fields = SplitOnly(payload));
        ParsedPayload parsed = ParsedPayload.Empty;
        var parse = Report.Best(5, () => parsed = LineParser.ParsePayload(payload, now));
        if (parsed.Lines.Count != count || fields != count * 19L) throw new InvalidOperationException("benchmark input is wrong");

        Report.Header($"parse: {count:N0} lines of 3,660-line router logs ({payload.Length / 1024:N0} KiB), best of 5");
        Report.Row("LineParser.ParsePayload (validate, numbers, Measurement)", count / parse.TotalSeconds, "lines/s");
        Report.Row("baseline: split lines and fields only", count / split.TotalSeconds, "lines/s",
            $"parser at {split / parse:P0} of the split-only rate");
    }

    private static long SplitOnly(ReadOnlySpan<byte> payload)
    {
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
