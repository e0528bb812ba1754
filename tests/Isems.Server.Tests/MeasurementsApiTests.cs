using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class MeasurementsApiTests : ServerTestBase
{

    [Fact]
    public async Task Latest_lists_the_newest_measurement_of_each_polled_node_in_the_originals_json()
    {
        var b = Fleet.AddNode("Node-B", historyLines: 30);
        var a = Fleet.AddNode("Node-A", historyLines: 10);
        await using var host = new CollectorHost(Settings(b, a));
        var client = host.CreateClient();
        await host.PollNowAsync(b.LogUrl.ToString());
        await host.PollNowAsync(a.LogUrl.ToString());

        var response = await client.GetAsync("/measurements/latest");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var list = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["measurements"]!.AsArray();
        Assert.Equal(["Node-A", "Node-B"], list.Select(m => (string)m!["nodeId"]!));
        var newestOfA = a.Lines[^1].Split(';');
        var json = list[0]!.AsObject();
        Assert.Equal(
            ["batteryChargeEstimate", "batteryHealthEstimate", "batteryTemperature", "batteryVoltage", "id", "isPowerSaveMode",
             "isemsRevision", "latitude", "longitude", "lowVoltageDisconnectVoltage", "mppVoltage", "nodeId", "openCircuitVoltage",
             "openMPPTFirmwareVersion", "rateBatteryCapacity", "ratedSolarModuleCapacity", "status", "temperatureCorrectedVoltage",
             "timeToShutdown", "timestamp"],
            json.Select(kv => kv.Key));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(long.Parse(newestOfA[2])).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), (string)json["timestamp"]!);
        Assert.Equal(double.Parse(newestOfA[8], System.Globalization.CultureInfo.InvariantCulture), (double)json["batteryVoltage"]!);
        Assert.Equal(JsonValueKind.Number, json["id"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, json["isPowerSaveMode"]!.GetValueKind());
        Assert.Equal("0x" + newestOfA[18].ToLowerInvariant().PadLeft(3, '0'), (string)json["status"]!);
        Assert.Equal(newestOfA[3], (string)json["openMPPTFirmwareVersion"]!);
    }

    [Fact]
    public async Task On_postgresql_the_same_json_comes_back_after_a_restart()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 30);
        var server = await PostgresServer.SharedAsync();
        var settings = Settings(node);
        settings["DATABASE_URL"] = await server.CreateDatabaseAsync();
        string before, history;
        await using (var first = new CollectorHost(settings))
        {
            var outcome = await first.PollNowAsync(node.LogUrl.ToString());
            Assert.Equal(30, outcome.Stored);
            before = await first.CreateClient().GetStringAsync("/measurements/latest");
            history = await first.CreateClient().GetStringAsync("/measurements/Elektra-Dach/latest");
        }

        await using var second = new CollectorHost(settings);
        var client = second.CreateClient();

        Assert.Equal(before, await client.GetStringAsync("/measurements/latest"));
        Assert.Equal(history, await client.GetStringAsync("/measurements/Elektra-Dach/latest"));
        Assert.Equal(30, JsonNode.Parse(history)!["measurements"]!.AsArray().Count);
        Assert.Equal(0, (await second.PollNowAsync(node.LogUrl.ToString())).Stored);
    }

    [Fact]
    public async Task Inactive_nodes_are_hidden_unless_all_is_true()
    {
        var active = Fleet.AddNode("Active", historyLines: 3);
        // A node whose newest line is 40 days old, stored by an earlier run.
        using (var store = new MeasurementStore(DatabaseTarget.Parse(Settings()["DATABASE_URL"], Temp.Path)))
        {
            store.Migrate();
            var old = SimulatedLines.Router("Stale", DateTimeOffset.UtcNow.AddDays(-40).ToUnixTimeSeconds());
            await store.WriteAsync([LineParser.ParsePayload(old, DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Lines]);
        }
        var settings = Settings(active);
        settings["HIDE_INACTIVE_AFTER_DAYS"] = "30";
        await using var host = new CollectorHost(settings);
        await host.PollNowAsync(active.LogUrl.ToString());
        var client = host.CreateClient();

        var visible = await NodeIds(client, "/measurements/latest");
        var all = await NodeIds(client, "/measurements/latest?all=true");

        Assert.Equal(["Active"], visible);
        Assert.Equal(["Active", "Stale"], all);
    }

    [Fact]
    public async Task A_nodes_history_is_newest_first_and_capped_at_1440()
    {
        var node = Fleet.AddNode("Südstern 7", historyLines: 1500);
        await using var host = new CollectorHost(Settings(node));
        await host.PollNowAsync(node.LogUrl.ToString());
        var client = host.CreateClient();

        var body = JsonNode.Parse(await client.GetStringAsync("/measurements/" + Uri.EscapeDataString("Südstern 7") + "/latest"))!;
        var rows = body["measurements"]!.AsArray();

        Assert.Equal(1440, rows.Count);
        var times = rows.Select(r => DateTimeOffset.Parse((string)r!["timestamp"]!)).ToList();
        Assert.Equal(times.OrderByDescending(t => t), times);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(node.NewestTimestamp), times[0]);
    }

    [Fact]
    public async Task An_unknown_node_has_an_empty_history_as_in_the_original()
    {
        await using var host = new CollectorHost(Settings());
        var response = await host.CreateClient().GetAsync("/measurements/nobody/latest");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"measurements":[]}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task After_a_restart_latest_answers_the_same_before_any_poll()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 20);
        string before;
        await using (var first = new CollectorHost(Settings(node)))
        {
            await first.PollNowAsync(node.LogUrl.ToString());
            before = await first.CreateClient().GetStringAsync("/measurements/latest");
        }
        var requestsBefore = node.Requests;

        await using var second = new CollectorHost(Settings(node));
        var after = await second.CreateClient().GetStringAsync("/measurements/latest");

        Assert.Equal(requestsBefore, node.Requests);
        Assert.Contains("Elektra-Dach", before);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task A_node_known_by_address_is_one_node_after_a_restart_and_a_poll()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 20);
        await using (var first = new CollectorHost(Settings(node)))
            await first.PollNowAsync(node.LogUrl.ToString());
        node.Append();

        await using var second = new CollectorHost(Settings(node));
        var outcome = await second.PollNowAsync(node.LogUrl.ToString());
        var client = second.CreateClient();

        Assert.Equal(1, outcome.Stored);
        var latest = JsonNode.Parse(await client.GetStringAsync("/measurements/latest"))!["measurements"]!.AsArray();
        var only = Assert.Single(latest)!;
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(node.NewestTimestamp), DateTimeOffset.Parse((string)only["timestamp"]!));
        var nodes = JsonNode.Parse(await client.GetStringAsync("/nodes"))!["nodes"]!.AsArray();
        var status = Assert.Single(nodes)!;
        Assert.Equal("Elektra-Dach", (string)status["nodeId"]!);
        Assert.Equal(node.LogUrl.ToString(), (string)status["url"]!);
    }

    [Fact]
    public async Task The_read_endpoints_allow_any_origin()
    {
        await using var host = new CollectorHost(Settings());
        var request = new HttpRequestMessage(HttpMethod.Get, "/measurements/latest");
        request.Headers.Add("Origin", "https://isems-app.example");
        var response = await host.CreateClient().SendAsync(request);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    private static async Task<List<string>> NodeIds(HttpClient client, string path) =>
        JsonNode.Parse(await client.GetStringAsync(path))!["measurements"]!.AsArray().Select(m => (string)m!["nodeId"]!).ToList();

    [Fact]
    public async Task A_history_read_again_shows_the_lines_stored_since_and_none_a_purge_removed()
    {
        var node = Fleet.AddNode("Kept-Fresh", historyLines: 5);
        var settings = Settings(node);
        settings["ISEMS_ADMIN_TOKEN"] = "token";
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();
        async Task<int> Count() =>
            JsonNode.Parse(await client.GetStringAsync("/measurements/Kept-Fresh/latest"))!["measurements"]!.AsArray().Count;
        await host.PollNowAsync(node.LogUrl.ToString());
        Assert.Equal(5, await Count());
        Assert.Equal(5, await Count()); // the second read is the kept JSON

        node.Append(3);
        await host.PollNowAsync(node.LogUrl.ToString());
        Assert.Equal(8, await Count());

        client.DefaultRequestHeaders.Authorization = new("Bearer", "token");
        var registered = JsonNode.Parse(await client.GetStringAsync("/admin/nodes"))!["nodes"]!.AsArray().Single()!;
        var purge = await client.DeleteAsync($"/admin/nodes/{Uri.EscapeDataString((string)registered["id"]!)}?purge=true");
        Assert.Equal(8, (int)JsonNode.Parse(await purge.Content.ReadAsStringAsync())!["rowsDeleted"]!);
        Assert.Equal(0, await Count());
    }
}
