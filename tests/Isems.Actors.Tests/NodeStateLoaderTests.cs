using Akka.Actor;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// A node actor started after start-up (the loader's fleet-wide read already dropped: moved to its id, added later,
/// or, with sharding, started in another process) loads its own saved state from its rows. Real SQLite file,
/// simulated node over HTTP, the collector composed as the product composes it and restarted over the same files.
/// </summary>
public sealed class NodeStateLoaderTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    [Fact]
    public async Task A_node_actor_started_after_the_preload_was_dropped_gets_its_bookmark_and_latest_row_from_the_database()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);

        // Before: the node polled under its id, its lines and bookmark stored; then the collector stops.
        var before = await StartNodesAsync();
        before.Tell(new StartPolling("Elektra-Dach", node.LogUrl));
        Assert.Equal(5, (await before.Ask<PollOutcome>(new PollNow("Elektra-Dach"), TimeSpan.FromSeconds(10))).Stored);
        await StopCollectorAsync();

        // The collector starts again; the loader reads the fleet at start, and start-up ends (the registry's start-up
        // drops what no node actor claimed).
        var collector = await StartCollectorAsync(configured: []);
        await collector.Startup.Ready.WaitAsync(TimeSpan.FromSeconds(20));
        var (nodes, loader) = (collector.Nodes, collector.Registry.Get<NodeStateLoaderActor>());

        // Asked directly after start-up: the node's own rows answer.
        var state = await loader.Ask<NodeStateLoaded>(new LoadNodeState("Elektra-Dach"), TimeSpan.FromSeconds(5));
        Assert.Equal(node.LogUrl.ToString(), state.Bookmark!.LogUrl);
        Assert.Equal(node.NewestTimestamp, state.Latest!.Measurement.Timestamp);
        Assert.Null((await loader.Ask<NodeStateLoaded>(new LoadNodeState("Unknown-Node"), TimeSpan.FromSeconds(5))).Bookmark);

        // The node's actor of the start is stopped (as when it moves), so the one started now begins after start-up.
        nodes.Tell(new StopNode("Elektra-Dach", "Elektra-Dach"));

        // A node actor started now shows its newest stored row, and reads its log on from the saved bookmark.
        nodes.Tell(new StartPolling("Elektra-Dach", node.LogUrl));
        AwaitAssert(() => Assert.Equal(node.NewestTimestamp, StatusOf(nodes, "Elektra-Dach").Latest?.Measurement.Timestamp),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        node.Append();
        var next = PollOnce(nodes, "Elektra-Dach");
        Assert.Equal((1L, 0L), (next.LinesStored, next.LinesDuplicate));
        Assert.Equal(6, await Store.CountAsync());
    }
}
