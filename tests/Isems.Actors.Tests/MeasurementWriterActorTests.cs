using System.Text;
using Akka.Actor;
using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Simulator;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

public sealed class MeasurementWriterActorTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    private static readonly long Clock = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private IActorRef Writer() => Sys.ActorOf(MeasurementWriterActor.Props(Store, new WriterOptions { MaxBatchLines = 1000 }));

    [Fact]
    public async Task A_10000_line_log_with_a_bad_line_every_7th_stores_exactly_the_good_ones()
    {
        var log = new StringBuilder();
        var good = new List<long>();
        for (var i = 0; i < 10_000; i++)
        {
            var timestamp = Clock - (10_000 - i) * 60L;
            if (i % 7 == 6) log.Append("Elektra-Dach;1;").Append(timestamp).Append(";broken\n");
            else
            {
                log.Append(SimulatedLines.Router("Elektra-Dach", timestamp)).Append('\n');
                good.Add(timestamp);
            }
        }
        var parsed = LineParser.ParsePayload(log.ToString(), Clock);

        Writer().Tell(new WriteLines(parsed.Lines, 1), TestActor);
        var written = ExpectMsg<LinesWritten>(TimeSpan.FromSeconds(20));

        Assert.Equal(good.Count, written.Outcome.Stored);
        Assert.Equal(10_000 - good.Count, parsed.Rejections.Total);
        var stored = await Store.HistoryAsync("Elektra-Dach", 20_000);
        Assert.Equal(good.OrderByDescending(t => t), stored.Select(s => s.Measurement.Timestamp));
    }

    [Fact]
    public void Lines_written_again_are_duplicates_and_keep_their_ids()
    {
        var lines = LineParser.ParsePayload(string.Join("\n", Enumerable.Range(0, 5).Select(i => SimulatedLines.Esp("FF-ESP-Hof", Clock - i * 15))), Clock).Lines;
        var writer = Writer();

        writer.Tell(new WriteLines(lines, 1), TestActor);
        var first = ExpectMsg<LinesWritten>(TimeSpan.FromSeconds(10));
        writer.Tell(new WriteLines(lines, 2), TestActor);
        var second = ExpectMsg<LinesWritten>(TimeSpan.FromSeconds(10));

        Assert.Equal((5, 0), (first.Outcome.Stored, first.Outcome.Duplicates));
        Assert.Equal((0, 5), (second.Outcome.Stored, second.Outcome.Duplicates));
        Assert.Equal(first.Outcome.Newest.Single(), second.Outcome.Newest.Single());
        Assert.Equal(Clock, second.Outcome.Newest.Single().Measurement.Timestamp);
    }

    [Fact]
    public async Task Many_senders_at_once_are_each_told_what_became_of_their_lines()
    {
        var writer = Writer();
        var probes = Enumerable.Range(0, 50).Select(_ => CreateTestProbe()).ToList();
        // Every sender's 20 lines overlap its neighbour's by 10: half of all lines after the first sender are duplicates.
        for (var s = 0; s < probes.Count; s++)
        {
            var lines = Enumerable.Range(s * 10, 20).Select(i => SimulatedLines.Router("Shared", Clock - 10_000 * 60L + i * 60L));
            writer.Tell(new WriteLines(LineParser.ParsePayload(string.Join("\n", lines), Clock).Lines, s), probes[s]);
        }

        var outcomes = probes.Select((p, s) => p.ExpectMsg<LinesWritten>(m => m.CorrelationId == s, TimeSpan.FromSeconds(20))).ToList();

        Assert.All(outcomes, o => Assert.Equal(20, o.Outcome.Stored + o.Outcome.Duplicates));
        Assert.Equal(50 * 10 + 10, outcomes.Sum(o => o.Outcome.Stored));
        Assert.Equal(50 * 10 + 10, await Store.CountAsync());
    }
}
