using Isems.Server.Commands;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class UpdateDataCommandTests : ServerTestBase
{

    [Fact]
    public async Task Polls_every_node_once_prints_a_line_each_and_fails_if_one_failed()
    {
        var good = Fleet.AddNode("Good", historyLines: 12);
        var bad = Fleet.AddNode("Bad", historyLines: 12);
        bad.Fault = NodeFault.ServerError;
        var output = new StringWriter();

        var exit = await UpdateDataCommand.RunAsync(
            [$"--DATABASE_URL={DatabaseUrl}", $"--ISEMS_ROUTER_IPS={good.LogUrl},{bad.LogUrl}"], output);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, exit);
        Assert.Equal(2, lines.Length);
        Assert.Equal($"{good.LogUrl} (Good): stored 12, duplicates 0, rejected 0", lines[0].TrimEnd());
        Assert.StartsWith($"{bad.LogUrl}: failed: HTTP 500", lines[1]);
        Assert.Equal(1, bad.Requests);
    }

    [Fact]
    public async Task A_second_run_reads_on_from_where_the_first_stopped_and_stores_nothing_twice()
    {
        var node = Fleet.AddNode("Good", historyLines: 12);
        string[] args = [$"--DATABASE_URL={DatabaseUrl}", $"--ISEMS_ROUTER_IPS={node.LogUrl}"];
        Assert.Equal(0, await UpdateDataCommand.RunAsync(args, TextWriter.Null));
        var output = new StringWriter();

        var served = node.BytesServed;
        node.Append();

        Assert.Equal(0, await UpdateDataCommand.RunAsync(args, output));

        // The first run's bookmark: only the last line read (to recognise the log) and the new one are fetched.
        Assert.Contains("stored 1, duplicates 0", output.ToString());
        Assert.True(node.BytesServed - served < 500, $"{node.BytesServed - served} bytes fetched by the second run");
        using var store = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, Temp.Path));
        Assert.Equal(13, await store.CountAsync());
    }

    [Fact]
    public async Task Polls_the_nodes_operators_added_too_and_writes_nothing_to_the_registry()
    {
        var added = Fleet.AddNode("Operator-Added", historyLines: 4);
        var configured = Fleet.AddNode("Configured", historyLines: 2);
        var settings = Settings();
        settings["ISEMS_ADMIN_TOKEN"] = "token-for-this-test";
        await using (var host = new CollectorHost(settings))
        {
            using var client = AdminClient(host);
            var response = await client.PostAsync("/admin/nodes", new StringContent(
                $$"""{"id":"Operator-Added","url":"{{added.LogUrl}}"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
            await Eventually(async () => (await client.GetStringAsync("/measurements/Operator-Added/latest")).Contains("Operator-Added"),
                "the first poll after the add stored the lines");
        }
        var output = new StringWriter();

        var exit = await UpdateDataCommand.RunAsync([$"--DATABASE_URL={DatabaseUrl}", $"--ISEMS_ROUTER_IPS={configured.LogUrl}"], output);

        Assert.Equal(0, exit);
        Assert.Contains("(Configured): stored 2, duplicates 0", output.ToString());
        Assert.Contains("Operator-Added: stored 0, duplicates 0", output.ToString()); // the host's poll stored them and saved where it stopped
        // ISEMS_ROUTER_IPS was merged for this run only: the service, started without it, knows only the operator's node.
        settings["ISEMS_ROUTER_IPS"] = "";
        await using var service = new CollectorHost(settings);
        using var admin = AdminClient(service);
        var nodes = System.Text.Json.Nodes.JsonNode.Parse(await admin.GetStringAsync("/admin/nodes"))!["nodes"]!.AsArray();
        Assert.Equal("Operator-Added", (string)Assert.Single(nodes)!["id"]!);
    }

    private static HttpClient AdminClient(CollectorHost host)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", "token-for-this-test");
        return client;
    }
}
