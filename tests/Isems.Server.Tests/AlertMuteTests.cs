using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>Per-node mutes through <c>PATCH /admin/nodes/{id}</c>, on the real host over HTTP, across a restart.</summary>
public sealed class AlertMuteTests : ServerTestBase
{
    private const string Token = "test-admin-token-0123456789";

    // 0x990: battery low (0x080) and no communication with the solar controller (0x010).
    private const string LowAndUnreachable = "990";

    private static HttpClient Admin(CollectorHost host)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonArray> Firing(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync("/alerts?nodeId=Elektra-Dach&state=firing"))!["alerts"]!.AsArray();

    private static async Task<List<string>> FiringNames(HttpClient client) =>
        (await Firing(client)).Select(a => (string)a!["alertname"]!).Order().ToList();

    private static List<string> Muted(JsonNode node) => node["mutedAlerts"]!.AsArray().Select(n => (string)n!).ToList();

    [Fact]
    public async Task A_muted_alert_resolves_is_not_delivered_again_and_stays_muted_after_a_restart_while_the_others_fire()
    {
        using var webhook = new HttpCapture();
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(AlertDeliveryTests.Lines("Elektra-Dach", 0, 2, LowAndUnreachable));
        var settings = Settings();
        settings["ISEMS_ADMIN_TOKEN"] = Token;
        settings["ALERT_WEBHOOK_URL"] = $"http://127.0.0.1:{webhook.Port}/hook";
        string unreachableStartsAt;

        await using (var first = new CollectorHost(settings))
        {
            var client = Admin(first);
            var added = await client.PostAsync("/admin/nodes", Json($$"""{"id":"Elektra-Dach","url":"{{node.LogUrl}}"}"""));
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            Assert.Empty(Muted(JsonNode.Parse(await added.Content.ReadAsStringAsync())!));
            await Eventually(async () => (await FiringNames(client)).Count == 2, "both alerts firing");
            await Eventually(() => webhook.Requests.Count == 2, "both delivered");

            var muted = await client.PatchAsync("/admin/nodes/Elektra-Dach", Json("""{"mutedAlerts":["BatteryLow"]}"""));
            Assert.Equal(HttpStatusCode.OK, muted.StatusCode);
            Assert.Equal(["BatteryLow"], Muted(JsonNode.Parse(await muted.Content.ReadAsStringAsync())!));
            // Muting the firing alert resolves it, and receivers are told so; the other alert fires on.
            await Eventually(async () => await FiringNames(client) is ["ControllerUnreachable"], "BatteryLow resolved by the mute");
            await Eventually(() => webhook.Requests.Count == 3, "the resolution delivered");
            var resolution = JsonNode.Parse(webhook.Requests[2].Body)!.AsArray().Single()!;
            Assert.Equal("BatteryLow", (string?)resolution["labels"]!["alertname"]);
            Assert.NotNull((string?)resolution["endsAt"]);
            unreachableStartsAt = (string)(await Firing(client)).Single()!["startsAt"]!;

            // Two more battery-low lines: evaluated, but a muted alert does not fire, and nothing is delivered.
            node.ReplaceLog(AlertDeliveryTests.Lines("Elektra-Dach", 0, 4, LowAndUnreachable));
            Assert.Equal(2, (await first.PollNowAsync("Elektra-Dach")).Stored);
            await Task.Delay(500);
            Assert.Equal(["ControllerUnreachable"], await FiringNames(client));
            Assert.Equal(3, webhook.Requests.Count);

            var one = JsonNode.Parse(await client.GetStringAsync("/admin/nodes/Elektra-Dach"))!;
            Assert.Equal(["BatteryLow"], Muted(one));
        }

        await using var second = new CollectorHost(settings);
        var after = Admin(second);
        var listed = JsonNode.Parse(await after.GetStringAsync("/admin/nodes"))!["nodes"]!.AsArray().Single()!;
        Assert.Equal(["BatteryLow"], Muted(listed));
        Assert.Equal(["ControllerUnreachable"], await FiringNames(after));
        Assert.Equal(unreachableStartsAt, (string)(await Firing(after)).Single()!["startsAt"]!);

        node.ReplaceLog(AlertDeliveryTests.Lines("Elektra-Dach", 0, 6, LowAndUnreachable));
        Assert.Equal(2, (await second.PollNowAsync("Elektra-Dach")).Stored);
        await Task.Delay(500);
        Assert.Equal(["ControllerUnreachable"], await FiringNames(after));
        Assert.Equal(3, webhook.Requests.Count);

        // Unmuted: the next two battery-low lines fire it again, and it is delivered.
        var unmuted = await after.PatchAsync("/admin/nodes/Elektra-Dach", Json("""{"mutedAlerts":[]}"""));
        Assert.Empty(Muted(JsonNode.Parse(await unmuted.Content.ReadAsStringAsync())!));
        node.ReplaceLog(AlertDeliveryTests.Lines("Elektra-Dach", 0, 8, LowAndUnreachable));
        Assert.Equal(2, (await second.PollNowAsync("Elektra-Dach")).Stored);
        await Eventually(async () => (await FiringNames(after)).Count == 2, "BatteryLow firing again");
        await Eventually(() => webhook.Requests.Count == 4, "and delivered");
    }

    [Theory]
    [InlineData("""{"mutedAlerts":["BatteryLow","BatteryEmpty"]}""", "'BatteryEmpty'")]
    [InlineData("""{"mutedAlerts":"BatteryLow"}""", "must be a list of alert names")]
    [InlineData("""{"mutedAlerts":[7]}""", "must be a list of alert names")]
    public async Task Unknown_alert_names_are_a_400_naming_the_valid_ones_and_change_nothing(string body, string says)
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        var settings = Settings();
        settings["ISEMS_ADMIN_TOKEN"] = Token;
        await using var host = new CollectorHost(settings);
        var client = Admin(host);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/admin/nodes", Json($$"""{"id":"Elektra-Dach","url":"{{node.LogUrl}}","mutedAlerts":["StorageTooSmall"]}"""))).StatusCode);

        var response = await client.PatchAsync("/admin/nodes/Elektra-Dach", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var detail = (string)problem["detail"]!;
        Assert.Contains(says, detail);
        Assert.Contains("NodeDown, NodeSilent, BatteryLow, BatteryOverheating, BatteryCold, ControllerUnreachable, TemperatureSensorMissing, StorageTooSmall", detail);
        Assert.NotNull(problem["errors"]!["mutedAlerts"]);
        Assert.Equal(["StorageTooSmall"], Muted(JsonNode.Parse(await client.GetStringAsync("/admin/nodes/Elektra-Dach"))!));
    }
}
