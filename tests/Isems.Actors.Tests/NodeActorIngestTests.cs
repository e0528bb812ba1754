using Akka.Actor;
using Isems.Actors.Nodes;
using Isems.LineFormat;
using Isems.Simulator;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

public sealed class NodeActorIngestTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    private static readonly long Clock = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static ParsedPayload Payload(int from, int count) => LineParser.ParsePayload(
        string.Join("\n", Enumerable.Range(from, count).Select(i => SimulatedLines.Esp("FF-ESP-Hof", Clock - 3600 + i * 15L))), Clock);

    [Fact]
    public async Task Pushed_lines_reach_a_node_actor_made_on_first_need_and_are_stored_once()
    {
        var nodes = StartNodes();

        nodes.Tell(new IngestLines("FF-ESP-Hof", Payload(0, 5).Lines, RejectionCounts.None, 1));
        var first = ExpectMsg<LinesIngested>(TimeSpan.FromSeconds(10));
        nodes.Tell(new IngestLines("FF-ESP-Hof", Payload(3, 5).Lines, RejectionCounts.None.Add(RejectReason.Number), 2));
        var second = ExpectMsg<LinesIngested>(TimeSpan.FromSeconds(10));

        Assert.Equal((1L, 5, 0), (first.Tag, first.Stored, first.Duplicates));
        Assert.Equal((2L, 3, 2), (second.Tag, second.Stored, second.Duplicates));
        var status = StatusOf(nodes, "FF-ESP-Hof");
        Assert.Equal(Clock - 3600 + 7 * 15, status.Latest!.Measurement.Timestamp);
        Assert.Equal(8, status.LinesStored);
        Assert.Equal(1, status.LinesRejected[RejectReason.Number]);
        Assert.Equal(11, status.LinesPushed);
        Assert.Equal(8, await Store.CountAsync());
    }
}
