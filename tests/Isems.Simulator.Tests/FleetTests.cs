using System.Net;

namespace Isems.Simulator.Tests;

public sealed class FleetTests
{
    [Fact]
    public async Task A_thousand_concurrent_requests_to_a_hundred_nodes_are_all_answered()
    {
        await using var fleet = SimulatedFleet.Start();
        var nodes = Enumerable.Range(0, 100)
            .Select(i => fleet.AddNode($"node-{i:D3}", i % 10 == 0 ? NodeKind.Esp : NodeKind.Router, historyLines: 60))
            .ToArray();
        var expected = nodes.ToDictionary(n => n, n => n.Kind == NodeKind.Router
            ? string.Concat(n.Lines.Select(l => l + "\n"))
            : string.Join("\n", n.Lines));

        var answers = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            var node = nodes[i % nodes.Length];
            using var response = await Http.GetAsync(node.LogUrl);
            return (node, response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(answers, a =>
        {
            Assert.Equal(HttpStatusCode.OK, a.StatusCode);
            Assert.Equal(expected[a.node], a.Body);
        });
        Assert.Equal(1000, fleet.RequestsServed);
        Assert.All(nodes, n => Assert.Equal(10, n.Requests));
        Assert.Equal(answers.Sum(a => (long)a.Body.Length), fleet.BytesServed);
    }

    [Fact]
    public async Task Each_request_names_the_asking_client_and_the_kernel_names_the_process_that_holds_it()
    {
        await using var fleet = SimulatedFleet.Start();
        var node = fleet.AddNode("asked");
        var owners = new List<int?>();
        // Asked while the client waits for its answer: its socket is still open to be found.
        fleet.NodeRequested += (requested, client) =>
        {
            lock (owners) owners.Add(requested == node ? Isems.Testing.LoopbackPeers.OwnerOf(client, fleet.BaseAddress.Port, [1, Environment.ProcessId]) : -1);
        };

        for (var i = 0; i < 3; i++)
            using (var response = await Http.GetAsync(node.LogUrl))
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal([Environment.ProcessId, Environment.ProcessId, Environment.ProcessId], owners);
    }

    [Fact]
    public async Task Nodes_are_listed_in_the_order_added_and_found_by_id()
    {
        await using var fleet = SimulatedFleet.Start();
        var a = fleet.AddNode("a");
        var b = fleet.AddNode("b", NodeKind.Esp);

        Assert.Equal([a, b], fleet.Nodes);
        Assert.Same(b, fleet["b"]);
        Assert.Throws<KeyNotFoundException>(() => fleet["c"]);
        Assert.Throws<ArgumentException>(() => fleet.AddNode("a"));
        Assert.Throws<ArgumentException>(() => fleet.AddNode("x/y"));
        Assert.Equal($"{fleet.BaseAddress}b/csv.log", b.LogUrl.AbsoluteUri);
    }

    [Fact]
    public async Task A_given_port_is_used_and_freed_on_dispose()
    {
        int port;
        await using (var first = SimulatedFleet.Start())
            port = first.BaseAddress.Port;

        await using var second = SimulatedFleet.Start(port);
        Assert.Equal(new Uri($"http://127.0.0.1:{port}/"), second.BaseAddress);
        var node = second.AddNode("n", historyLines: 1);
        using var response = await Http.GetAsync(node.LogUrl);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task History_ends_at_the_clocks_now_and_appends_follow_one_interval_apart()
    {
        var clock = new FixedClock(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        await using var fleet = SimulatedFleet.Start(clock: clock);
        var router = fleet.AddNode("r", historyLines: 3);
        var esp = fleet.AddNode("e", NodeKind.Esp, historyLines: 3);

        Assert.Equal([1_699_999_880L, 1_699_999_940, 1_700_000_000], router.Lines.Select(LineShapes.Timestamp));
        Assert.Equal([1_699_999_970L, 1_699_999_985, 1_700_000_000], esp.Lines.Select(LineShapes.Timestamp));

        clock.Now = clock.Now.AddHours(1);
        router.Append(2);
        esp.Append();
        Assert.Equal(1_700_000_120, router.NewestTimestamp);
        Assert.Equal(1_700_000_015, esp.NewestTimestamp);
    }
}
