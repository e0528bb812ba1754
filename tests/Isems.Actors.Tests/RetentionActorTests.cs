using Akka.Actor;
using Isems.Actors.Retention;
using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Simulator;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

public sealed class RetentionActorTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    private static Measurement Line(string nodeId, long timestamp)
    {
        Assert.True(LineParser.TryParse(SimulatedLines.Router(nodeId, timestamp), timestamp, out var measurement, out _));
        return measurement!;
    }

    private async Task<List<long>> TimestampsAsync(string nodeId) =>
        (await Store.HistoryAsync(nodeId, 10_000)).Select(r => r.Measurement.Timestamp).Order().ToList();

    [Fact]
    public async Task Retention_keeps_exactly_what_it_should_while_lines_keep_being_stored()
    {
        var now = Scheduler.Now.ToUnixTimeSeconds();
        const long hour = 3600, day = 86_400;
        // A: one row an hour for 300 hours, each half an hour off the hour, so that no row lies within seconds of the
        // cutoff however far virtual time has moved when the run starts; B: 50 rows, all older than 20 days; C: 150
        // rows of the last hours.
        const long halfHour = 1800;
        await Store.WriteAsync([
            Enumerable.Range(0, 300).Select(i => Line("Node-A", now - halfHour - i * hour)).ToList(),
            Enumerable.Range(0, 50).Select(i => Line("Node-B", now - 20 * day - i * hour)).ToList(),
            Enumerable.Range(0, 150).Select(i => Line("Node-C", now - i * 60)).ToList(),
        ]);
        var writer = Sys.ActorOf(MeasurementWriterActor.Props(Store, new WriterOptions()));
        var options = new RetentionOptions
        {
            MaxAge = TimeSpan.FromDays(10),
            RowsPerNode = 100,
            Every = TimeSpan.FromHours(1),
            BatchRows = 37,
            PauseBetweenBatches = TimeSpan.FromMilliseconds(200),
        };
        var retention = Sys.ActorOf(RetentionActor.Props(Store, options));
        var changes = CreateTestProbe();
        Sys.EventStream.Subscribe(changes.Ref, typeof(RowsChanged));

        Assert.Null((await retention.Ask<RetentionStatus>(GetRetentionStatus.Instance)).LastRunEnded); // started, timer armed
        Scheduler.Advance(options.Every);
        // While retention works through its batches, a node keeps sending lines: 80 in 8 writes.
        var written = 0;
        AwaitAssert(() =>
        {
            if (written < 8)
            {
                writer.Tell(new WriteLines(Enumerable.Range(written * 10, 10).Select(i => Line("Node-D", now - i * 30)).ToList(), written));
                written++;
            }
            Scheduler.Advance(options.PauseBetweenBatches);
            var status = retention.Ask<RetentionStatus>(GetRetentionStatus.Instance, TimeSpan.FromSeconds(3)).Result;
            Assert.False(status.Running);
            Assert.NotNull(status.LastRunEnded);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        ReceiveN(written, TimeSpan.FromSeconds(10)).ToList().ForEach(m => Assert.IsType<LinesWritten>(m));
        while (written < 8)
        {
            writer.Tell(new WriteLines(Enumerable.Range(written * 10, 10).Select(i => Line("Node-D", now - i * 30)).ToList(), written));
            ExpectMsg<LinesWritten>();
            written++;
        }

        Assert.Equal(Enumerable.Range(0, 100).Select(i => now - halfHour - i * hour).Order(), await TimestampsAsync("Node-A"));
        Assert.Empty(await TimestampsAsync("Node-B"));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => now - i * 60L).Order(), await TimestampsAsync("Node-C"));
        Assert.Equal(80, (await TimestampsAsync("Node-D")).Count);
        var final = await retention.Ask<RetentionStatus>(GetRetentionStatus.Instance);
        // The run starts an hour after the rows were written: 10 days before it is 239 hours before they were.
        Assert.Equal(61 + 50, final.DeletedByAge);            // A's 61 rows older than that, all of B
        Assert.Equal(139 + 50, final.DeletedBeyondRowsPerNode); // A's 239 younger rows down to 100, C's 150 down to 100
        // Histories kept as JSON are out of date: retention says so for every node, since it does not track which.
        changes.FishForMessage(m => m is RowsChanged { NodeIds: null });
    }

    [Fact]
    public async Task Raw_rows_go_by_age_and_their_rollups_stay_until_the_rollup_age()
    {
        var now = Scheduler.Now.ToUnixTimeSeconds();
        const long hour = 3600, day = 86_400;
        // One row an hour for 60 days, each half an hour off the hour.
        await Store.WriteAsync([Enumerable.Range(0, 60 * 24).Select(i => Line("Node-A", now - 1800 - i * hour)).ToList()]);
        var options = new RetentionOptions
        {
            MaxAge = TimeSpan.FromDays(10),
            RollupMaxAge = TimeSpan.FromDays(30),
            Every = TimeSpan.FromHours(1),
            BatchRows = 500,
            PauseBetweenBatches = TimeSpan.FromMilliseconds(50),
        };
        var retention = Sys.ActorOf(RetentionActor.Props(Store, options));
        Assert.Null((await retention.Ask<RetentionStatus>(GetRetentionStatus.Instance)).LastRunEnded); // started, timer armed
        Scheduler.Advance(options.Every);
        AwaitAssert(() =>
        {
            Scheduler.Advance(options.PauseBetweenBatches);
            var status = retention.Ask<RetentionStatus>(GetRetentionStatus.Instance, TimeSpan.FromSeconds(3)).Result;
            Assert.False(status.Running);
            Assert.NotNull(status.LastRunEnded);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));

        var runAt = now + hour;
        var raw = await TimestampsAsync("Node-A");
        Assert.All(raw, t => Assert.True(t >= runAt - 10 * day));
        // Hourly history reaches back 30 days (the rollups), though raw rows reach back only 10.
        var history = await Store.AggregateAsync("Node-A", now - 60 * day, now + hour, 3600);
        Assert.Equal(Enumerable.Range(0, 60 * 24).Select(i => now - 1800 - i * hour).Where(t => t - t % hour >= runAt - 30 * day).Count(),
            history.Points.Sum(p => p.Aggregate.Count));
        Assert.NotNull(history.RawDeletedBefore);
        var final = await retention.Ask<RetentionStatus>(GetRetentionStatus.Instance);
        Assert.True(final.DeletedRollups > 0);
    }
}
