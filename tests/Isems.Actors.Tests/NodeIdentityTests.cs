using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.Actors.Writing;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// A node known only by its address ends up under one key, its id, however the id reached the registry: from a log
/// bookmark saved before a restart, or from a poll whose identification was lost while the registry was away.
/// Real SQLite file, simulated node over HTTP, the collector composed as the product composes it, restarted as a
/// new actor system over the same files.
/// </summary>
public sealed class NodeIdentityTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    [Fact]
    public async Task A_journal_holding_a_node_under_its_address_moves_it_to_the_id_its_saved_bookmark_names()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        var key = node.LogUrl.ToString();

        // Before the restart: the registry's journal holds the node under its address (configured, never polled by
        // that collector), and a collector without the registry polled it there: its bookmark, saved under the
        // address, names the id its lines carry.
        await StartCollectorAsync(DefaultPolling with { Scheduled = false }, configured: [node.LogUrl]);
        var merged = await Collector!.NodeRegistry.Ask<RegistryEntries>(new GetRegisteredNodes(), TimeSpan.FromSeconds(5));
        Assert.Equal(key, Assert.Single(merged.Nodes).Key);
        var before = (await RestartCollectorAsync()).Nodes;
        before.Tell(new StartPolling(key, node.LogUrl));
        Assert.True((await before.Ask<PollOutcome>(new PollNow(key), TimeSpan.FromSeconds(10))).Succeeded);
        await StopCollectorAsync();
        Assert.Contains(await Store.BookmarksAsync(), b => b.NodeKey == key && b.NodeId == "Elektra-Dach");

        // After it: each node actor loads its own saved state; the registry recovers the node under its address.
        var collector = await StartCollectorAsync(configured: [node.LogUrl]);
        var (nodes, registry) = (collector.Nodes, collector.NodeRegistry);

        AwaitAssert(() =>
        {
            Assert.IsType<NodeNotFound>(nodes.Ask<object>(new GetNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult());
            var moved = nodes.Ask<NodeStatus>(new GetNodeStatus("Elektra-Dach"), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();
            Assert.Equal(node.LogUrl, moved.LogUrl);
            Assert.Equal(node.NewestTimestamp, moved.Latest!.Measurement.Timestamp);
            Assert.NotNull(moved.NextPoll);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        var entry = await registry.Ask<RegistryEntry>(new GetRegisteredNode("Elektra-Dach"), TimeSpan.FromSeconds(3));
        Assert.Equal("Elektra-Dach", entry.Node.Key);
        var fleet = await nodes.Ask<FleetStatus>(new GetFleetStatus(), TimeSpan.FromSeconds(3));
        Assert.Equal("Elektra-Dach", Assert.Single(fleet.Nodes).NodeKey);

        // The log is read on from the saved bookmark: only the new line is fetched and stored.
        node.Append();
        var next = PollOnce(nodes, "Elektra-Dach");
        Assert.Equal((1L, 0L), (next.LinesStored, next.LinesDuplicate));
        Assert.Equal(6, await Store.CountAsync());
    }

    [Fact]
    public async Task An_identification_lost_while_the_registry_was_away_is_told_again_and_the_node_moves_to_its_id()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 5);
        var key = node.LogUrl.ToString();
        var nodes = await StartNodesAsync();
        // A registry the node actors cannot find yet (not in the ActorRegistry), as while it restarts after its journal
        // failed: the one piece started by hand, since the collector's own is always found.
        var startup = new CollectorStartup();
        var registry = Collector!.System.ActorOf(
            NodeRegistryActor.Props(nodes, $"node-registry-{Guid.NewGuid():N}", [node.LogUrl], startup: startup), "node-registry");
        await startup.Merged.WaitAsync(TimeSpan.FromSeconds(5));

        // The first good poll identifies the node while no registry can be reached (as while it restarts after its
        // journal failed: what is sent to it then is lost).
        var polled = PollOnce(nodes, key);
        Assert.Equal("Elektra-Dach", polled.NodeId);
        Assert.Equal(key, (await registry.Ask<RegistryEntry>(new GetRegisteredNode(node.LogUrl.Authority), TimeSpan.FromSeconds(3))).Node.Key);

        // The registry is back: the node tells its id again after its backoff, and is moved.
        ActorRegistry.For(Collector.System).Register<NodeRegistryActor>(registry);
        // Its first retry comes 5 s after the lost one; no further time passes, so the node under its id (on a slot of
        // its own) is not polled before its record is checked.
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        AwaitAssert(() =>
        {
            Assert.IsType<NodeNotFound>(nodes.Ask<object>(new GetNodeStatus(key), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult());
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        var entry = await registry.Ask<RegistryEntry>(new GetRegisteredNode("Elektra-Dach"), TimeSpan.FromSeconds(3));
        Assert.Equal("Elektra-Dach", entry.Node.Key);
        var moved = StatusOf(nodes, "Elektra-Dach");
        Assert.Equal(("Elektra-Dach", 1L, 5L), (moved.NodeKey, moved.Polls, moved.LinesStored));
        var fleet = await nodes.Ask<FleetStatus>(new GetFleetStatus(), TimeSpan.FromSeconds(3));
        Assert.Single(fleet.Nodes);
    }
}
