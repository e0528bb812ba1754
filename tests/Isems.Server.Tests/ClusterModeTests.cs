using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>
/// Cluster mode wired in the real host (SPEC §9), in-process: one member forming its own cluster on a real PostgreSQL,
/// so the shard region, the singletons, the router and the read models run as they do with three members (helper
/// 15b's multi-process tests run three). And one process without cluster settings, unchanged.
/// </summary>
public sealed class ClusterModeTests : ServerTestBase
{
    private const string Token = "test-admin-token-0123456789";

    [Fact]
    public async Task Without_cluster_settings_the_cluster_endpoint_says_single_and_readiness_has_no_cluster_check()
    {
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();

        var cluster = JsonNode.Parse(await client.GetStringAsync("/cluster"))!;
        Assert.Equal("""{"mode":"single","self":null,"leader":null,"members":[],"unreachable":[]}""", cluster.ToJsonString());
        var ready = JsonNode.Parse(await client.GetStringAsync("/readyz"))!;
        Assert.DoesNotContain(ready["checks"]!.AsArray(), c => (string)c!["name"]! == "cluster");
    }

    [Fact]
    public async Task One_member_polls_through_its_shard_region_answers_for_the_fleet_and_a_purged_node_stays_gone()
    {
        var configured = Fleet.AddNode("Cluster-Configured", historyLines: 2);
        var added = Fleet.AddNode("Cluster-Added", historyLines: 3);
        var postgres = await PostgresServer.SharedAsync();
        var port = Ports.Free();
        var settings = Settings(configured);
        settings["DATABASE_URL"] = await postgres.CreateDatabaseAsync();
        settings["ISEMS_ADMIN_TOKEN"] = Token;
        settings["CLUSTER_HOSTNAME"] = "127.0.0.1";
        settings["CLUSTER_PORT"] = port.ToString();
        settings["CLUSTER_SEEDS"] = $"127.0.0.1:{port}";
        var self = $"akka.tcp://isems@127.0.0.1:{port}";

        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        // Ready once the member is Up, and says so.
        await Eventually(async () => (await client.GetAsync("/readyz")).IsSuccessStatusCode, "ready", TimeSpan.FromSeconds(60));
        var ready = JsonNode.Parse(await client.GetStringAsync("/readyz"))!;
        Assert.Equal("healthy", (string)ready["checks"]!.AsArray().Single(c => (string)c!["name"]! == "cluster")!["status"]!);
        var cluster = JsonNode.Parse(await client.GetStringAsync("/cluster"))!;
        Assert.Equal("cluster", (string)cluster["mode"]!);
        Assert.Equal(self, (string)cluster["self"]!);
        Assert.Equal(self, (string)cluster["leader"]!);
        var member = Assert.Single(cluster["members"]!.AsArray());
        Assert.Equal("Up", (string)member!["status"]!);
        Assert.Empty(cluster["unreachable"]!.AsArray());

        // An operator's node, through the registry singleton: polled at once by its entity.
        var add = await client.PostAsync("/admin/nodes",
            new StringContent($$"""{"id":"Cluster-Added","url":"{{added.LogUrl}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, add.StatusCode);
        await Eventually(async () => await HistoryCount(client, "Cluster-Added") == 3, "the added node's lines", TimeSpan.FromSeconds(30));

        // A configured node, known by its address, polled through the node manager's marker (the router in front of the
        // region): identified, and moved to an entity under its id, listed once.
        var outcome = await host.PollNowAsync(configured.LogUrl.ToString());
        Assert.True(outcome.Succeeded, outcome.Error);
        await Eventually(async () =>
        {
            var nodes = await NodesAsync(client);
            return nodes.Count(n => (string?)n["nodeId"] == "Cluster-Configured") == 1 && nodes.All(n => n["nodeId"] is not null);
        }, "the configured node listed once, under its id", TimeSpan.FromSeconds(30));
        Assert.Equal(2, await HistoryCount(client, "Cluster-Configured"));

        // Each node says which member owns it.
        Assert.All(await NodesAsync(client), n => Assert.Equal(self, (string)n["member"]!));
        Assert.Equal(self, (string)JsonNode.Parse(await client.GetStringAsync("/nodes/Cluster-Added"))!["member"]!);

        // Removed with its rows: its entity passivates rather than stops, so its shard does not start it again.
        var purge = await client.DeleteAsync("/admin/nodes/Cluster-Added?purge=true");
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        await Eventually(async () => (await NodesAsync(client)).All(n => (string?)n["nodeId"] != "Cluster-Added"), "the purged node gone");
        var requests = added.Requests;
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(await NodesAsync(client), n => (string?)n["nodeId"] == "Cluster-Added");
        Assert.Equal(requests, added.Requests);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nodes/Cluster-Added")).StatusCode);
    }

    private static async Task<List<JsonNode>> NodesAsync(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync("/nodes"))!["nodes"]!.AsArray().Select(n => n!).ToList();
}
