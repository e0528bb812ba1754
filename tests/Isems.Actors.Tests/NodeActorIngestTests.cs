using Akka.Actor;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Storage;
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
        var nodes = await StartNodesAsync();

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

    [Fact]
    public async Task A_burst_of_payloads_is_counted_whole_in_the_fleets_status_once_its_writes_are_answered()
    {
        var nodes = await StartNodesAsync();

        // Ten ESP payloads at once, each its newest line and the four before (a backlog drained after a restart): the
        // node tells its status once its writes under way are answered, not once a payload, and misses none of them.
        for (var i = 0; i < 10; i++) nodes.Tell(new IngestLines("FF-ESP-Hof", Payload(i, 5).Lines, RejectionCounts.None, i + 1));
        var answers = Enumerable.Range(0, 10).Select(_ => ExpectMsg<LinesIngested>(TimeSpan.FromSeconds(10))).ToList();

        Assert.Equal(14, answers.Sum(a => a.Stored));
        AwaitAssert(() =>
        {
            var listed = Assert.Single(nodes.Ask<FleetStatus>(new GetFleetStatus(), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult().Nodes);
            Assert.Equal(("FF-ESP-Hof", 50L, 14L, 36L), (listed.NodeKey, listed.LinesPushed, listed.LinesStored, listed.LinesDuplicate));
            Assert.Equal(Clock - 3600 + 13 * 15, listed.Latest!.Measurement.Timestamp);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        Assert.Equal(14, await Store.CountAsync());
    }

    [Fact]
    public void Lines_whose_write_was_committed_are_not_sent_to_the_writer_again_but_lines_that_failed_are()
    {
        // A probe stands in as the writer, to see what the node actor asks of it.
        var writer = CreateTestProbe();
        var node = Sys.ActorOf(NodeActor.Props("FF-ESP-Hof", writer.Ref, NodeLogFetcher.Create(DefaultPolling), new PollGate(1), DefaultPolling, NodeEvents.Nowhere(Sys)));

        node.Tell(new IngestLines("FF-ESP-Hof", Payload(0, 5).Lines, RejectionCounts.None, 1));
        var first = writer.ExpectMsg<WriteLines>();
        writer.Reply(new LinesWritten(first.CorrelationId, new WriteOutcome(5, 0, [])));
        ExpectMsg<LinesIngested>();

        // The next payload repeats four committed lines: only its newest goes to the database.
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(1, 5).Lines, RejectionCounts.None, 2));
        var second = writer.ExpectMsg<WriteLines>();
        Assert.Equal(Payload(5, 1).Lines, second.Lines);
        writer.Reply(new LinesNotWritten(second.CorrelationId, "the buffer is full"));
        Assert.Equal(2, ExpectMsg<LinesNotIngested>().Tag);

        // That line was not committed, so it is offered again; the other four count as duplicates.
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(1, 5).Lines, RejectionCounts.None, 3));
        var third = writer.ExpectMsg<WriteLines>();
        Assert.Equal(Payload(5, 1).Lines, third.Lines);
        writer.Reply(new LinesWritten(third.CorrelationId, new WriteOutcome(1, 0, [])));
        var done = ExpectMsg<LinesIngested>();
        Assert.Equal((3L, 1, 4), (done.Tag, done.Stored, done.Duplicates));
    }

    [Fact]
    public void A_line_whose_write_is_under_way_is_waited_for_not_written_twice_and_its_failure_fails_every_waiting_payload()
    {
        var writer = CreateTestProbe();
        var node = Sys.ActorOf(NodeActor.Props("FF-ESP-Hof", writer.Ref, NodeLogFetcher.Create(DefaultPolling), new PollGate(1), DefaultPolling, NodeEvents.Nowhere(Sys)));

        node.Tell(new IngestLines("FF-ESP-Hof", Payload(0, 5).Lines, RejectionCounts.None, 1));
        var first = writer.ExpectMsg<WriteLines>();
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(1, 5).Lines, RejectionCounts.None, 2));
        var second = writer.ExpectMsg<WriteLines>();
        Assert.Equal(Payload(5, 1).Lines, second.Lines);

        // The second payload's own line is committed first, but it also waits for the four lines of the first.
        node.Tell(new LinesWritten(second.CorrelationId, new WriteOutcome(1, 0, [])), writer.Ref);
        node.Tell(new LinesWritten(first.CorrelationId, new WriteOutcome(5, 0, [])), writer.Ref);
        Assert.Equal(1, ExpectMsg<LinesIngested>().Tag);
        var done = ExpectMsg<LinesIngested>();
        Assert.Equal((2L, 1, 4), (done.Tag, done.Stored, done.Duplicates));

        // A failed write fails the payloads waiting on it too; their senders offer them again.
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(10, 5).Lines, RejectionCounts.None, 3));
        var third = writer.ExpectMsg<WriteLines>();
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(11, 5).Lines, RejectionCounts.None, 4));
        var fourth = writer.ExpectMsg<WriteLines>();
        node.Tell(new LinesNotWritten(third.CorrelationId, "the buffer is full"), writer.Ref);
        Assert.Equal(3, ExpectMsg<LinesNotIngested>().Tag);
        Assert.Equal(4, ExpectMsg<LinesNotIngested>().Tag);
        node.Tell(new LinesWritten(fourth.CorrelationId, new WriteOutcome(1, 0, [])), writer.Ref);

        // Offered again: the failed lines go to the writer once more, the committed one does not.
        node.Tell(new IngestLines("FF-ESP-Hof", Payload(11, 5).Lines, RejectionCounts.None, 5));
        Assert.Equal(Payload(11, 4).Lines, writer.ExpectMsg<WriteLines>().Lines);
    }
}
