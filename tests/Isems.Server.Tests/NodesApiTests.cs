using System.Net;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class NodesApiTests : ServerTestBase
{

    [Fact]
    public async Task Nodes_tells_which_node_is_down_and_why()
    {
        var up = Fleet.AddNode("Up-Node", historyLines: 5);
        var down = Fleet.AddNode("Down-Node", historyLines: 5);
        down.Fault = NodeFault.ServerError;
        await using var host = new CollectorHost(Settings(up, down));
        await host.PollNowAsync(up.LogUrl.ToString());
        await host.PollNowAsync(down.LogUrl.ToString());
        var client = host.CreateClient();

        var nodes = JsonNode.Parse(await client.GetStringAsync("/nodes"))!["nodes"]!.AsArray();

        var upJson = nodes.Single(n => (string)n!["nodeId"]! == "Up-Node")!;
        Assert.Equal("up", (string)upJson["state"]!);
        Assert.Equal(5, (long)upJson["linesStored"]!);
        var downJson = nodes.Single(n => (string)n!["url"]! == down.LogUrl.ToString())!;
        Assert.Equal("down", (string)downJson["state"]!);
        Assert.Null(downJson["nodeId"]);
        Assert.Contains("500", (string)downJson["lastError"]!);
        Assert.NotNull(downJson["downSince"]);

        var one = await client.GetAsync("/nodes/Up-Node");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        var missing = await client.GetAsync("/nodes/Nobody");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
    }
}
