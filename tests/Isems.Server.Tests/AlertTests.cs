using System.Net;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using Microsoft.Data.Sqlite;

namespace Isems.Server.Tests;

/// <summary>SPEC §8 from the outside: the real host, a simulated node's log with status bits, GET /alerts, a restart.</summary>
public sealed class AlertTests : ServerTestBase
{
    private static readonly long Start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;

    private static IEnumerable<string> Lines(string nodeId, int from, int count, string status) =>
        Enumerable.Range(from, count).Select(i =>
        {
            var line = SimulatedLines.Router(nodeId, Start + i * 60L);
            return line[..(line.LastIndexOf(';') + 1)] + status;
        });

    private Dictionary<string, string> AlertSettings(SimulatedNode node)
    {
        var settings = Settings(node);
        settings["ALERT_SILENT_MINUTES"] = "0.05"; // 3 s, the second look 0.3 s later
        return settings;
    }

    private static async Task<JsonArray> Alerts(HttpClient client, string query = "") =>
        JsonNode.Parse(await client.GetStringAsync("/alerts" + query))!["alerts"]!.AsArray();

    private static JsonNode? Find(JsonArray alerts, string name) => alerts.FirstOrDefault(a => (string)a!["alertname"]! == name);

    private long SavedTransitions()
    {
        using var connection = new SqliteConnection($"Data Source={Temp.File("isems.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM alerts WHERE ends_at IS NULL";
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task The_second_battery_low_line_fires_BatteryLow_a_silent_node_fires_NodeSilent_and_a_restart_changes_neither()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980"));
        string batteryStartsAt, silentStartsAt;

        await using (var first = new CollectorHost(AlertSettings(node)))
        {
            var client = first.CreateClient();
            Assert.Equal(2, (await first.PollNowAsync(node.LogUrl.ToString())).Stored);
            await Eventually(async () => Find(await Alerts(client), "BatteryLow") is not null, "BatteryLow firing");
            await Eventually(async () => Find(await Alerts(client), "NodeSilent") is not null, "NodeSilent firing");
            var alerts = await Alerts(client, "?nodeId=Elektra-Dach&state=firing");
            var battery = Find(alerts, "BatteryLow")!;
            Assert.Equal(("Elektra-Dach", "critical", "firing", null),
                ((string?)battery["nodeId"], (string?)battery["severity"], (string?)battery["state"], (string?)battery["endsAt"]));
            Assert.Equal("warning", (string?)Find(alerts, "NodeSilent")!["severity"]);
            batteryStartsAt = (string)battery["startsAt"]!;
            silentStartsAt = (string)Find(alerts, "NodeSilent")!["startsAt"]!;
            Assert.Empty(await Alerts(client, "?nodeId=another-node"));
            var metrics = await client.GetStringAsync("/metrics");
            Assert.Contains("isems_alerts_firing{alertname=\"BatteryLow\",severity=\"critical\"} 1", metrics);
            Assert.Contains("isems_alerts_firing{alertname=\"NodeSilent\",severity=\"warning\"} 1", metrics);
            Assert.Contains("isems_alerts_firing{alertname=\"BatteryCold\",severity=\"warning\"} 0", metrics);
            await Eventually(() => SavedTransitions() == 2, "both transitions saved");
        }

        await using var second = new CollectorHost(AlertSettings(node));
        var after = second.CreateClient();
        var restored = await Alerts(after, "?state=firing");
        Assert.Equal(2, restored.Count);
        Assert.Equal(batteryStartsAt, (string)Find(restored, "BatteryLow")!["startsAt"]!);
        Assert.Equal(silentStartsAt, (string)Find(restored, "NodeSilent")!["startsAt"]!);
        // Nothing new in the log, and the node still silent: nothing is told again, nothing new is saved.
        await second.PollNowAsync(node.LogUrl.ToString());
        await Task.Delay(1000);
        Assert.Equal(2, (await Alerts(after)).Count);
        Assert.Equal(2, SavedTransitions());

        // Two clear lines: BatteryLow resolves, and the node is no longer silent; both keep their startsAt.
        node.ReplaceLog(Lines("Elektra-Dach", 0, 4, "980").Take(2).Concat(Lines("Elektra-Dach", 2, 2, "900")));
        Assert.Equal(2, (await second.PollNowAsync(node.LogUrl.ToString())).Stored);
        await Eventually(async () => (await Alerts(after, "?state=resolved")).Count == 2, "both resolved");
        var resolved = await Alerts(after, "?state=resolved");
        Assert.Equal(batteryStartsAt, (string)Find(resolved, "BatteryLow")!["startsAt"]!);
        Assert.NotNull((string?)Find(resolved, "BatteryLow")!["endsAt"]);
        Assert.Equal(silentStartsAt, (string)Find(resolved, "NodeSilent")!["startsAt"]!);
        Assert.Empty(await Alerts(after, "?state=firing"));
        Assert.Contains("isems_alerts_firing{alertname=\"BatteryLow\",severity=\"critical\"} 0", await after.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Alertmanager_shows_the_alert_with_its_labels_while_it_fires_and_no_longer_once_it_resolved()
    {
        await using var alertmanager = await AlertmanagerServer.StartAsync();
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980"));
        var settings = Settings(node);
        settings["ALERTMANAGER_URL"] = alertmanager.Url.ToString();
        await using var host = new CollectorHost(settings);

        await host.PollNowAsync(node.LogUrl.ToString());
        JsonNode? shown = null;
        await Eventually(async () => (shown = (await alertmanager.AlertsAsync()).FirstOrDefault()) is not null, "the alert in Alertmanager");
        var labels = shown!["labels"]!;
        Assert.Equal(("BatteryLow", "Elektra-Dach", "critical", "isems-collector"),
            ((string?)labels["alertname"], (string?)labels["node"], (string?)labels["severity"], (string?)labels["service"]));
        Assert.Contains("battery low", (string?)shown["annotations"]!["summary"]);
        Assert.NotNull((string?)shown["annotations"]!["description"]);
        Assert.Equal("active", (string?)shown["status"]!["state"]);

        // The node, configured by its address, is polled again under its id once it has moved there (a poll by
        // address racing that move is a known weakness: see the README's "Alerts").
        var client = host.CreateClient();
        await Eventually(async () => (await client.GetAsync("/nodes/Elektra-Dach")).IsSuccessStatusCode, "the node under its id");
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980").Concat(Lines("Elektra-Dach", 2, 2, "900")));
        await host.PollNowAsync("Elektra-Dach");
        await Eventually(async () => (await alertmanager.AlertsAsync()).Count == 0, "the alert resolved in Alertmanager");
    }

    [Fact]
    public async Task The_webhook_gets_one_post_per_change_in_Alertmanagers_form()
    {
        using var receiver = new HttpCapture();
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980"));
        var settings = Settings(node);
        settings["ALERT_WEBHOOK_URL"] = $"http://127.0.0.1:{receiver.Port}/hook";
        await using var host = new CollectorHost(settings);

        await host.PollNowAsync(node.LogUrl.ToString());
        // The node, configured by its address, has moved to its id before it is polled again (a poll racing that
        // move is a known weakness: see the README's "Alerts").
        await Eventually(() => receiver.Requests.Count == 1, "the first post");
        var client = host.CreateClient();
        await Eventually(async () => (await client.GetAsync("/nodes/Elektra-Dach")).IsSuccessStatusCode, "the node under its id");
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980").Concat(Lines("Elektra-Dach", 2, 2, "900")));
        await host.PollNowAsync(node.LogUrl.ToString());
        await Eventually(() => receiver.Requests.Count >= 2, "two posts");
        await Task.Delay(500);
        Assert.Equal(2, receiver.Requests.Count);
        var fired = JsonNode.Parse(receiver.Requests[0].Body)!.AsArray();
        var resolved = JsonNode.Parse(receiver.Requests[1].Body)!.AsArray();
        Assert.Equal("/hook", receiver.Requests[0].Path);
        Assert.Equal(("BatteryLow", "Elektra-Dach", "isems-collector", null),
            ((string?)fired.Single()!["labels"]!["alertname"], (string?)fired[0]!["labels"]!["node"], (string?)fired[0]!["labels"]!["service"],
             (string?)fired[0]!["endsAt"]));
        Assert.Equal((string?)fired[0]!["startsAt"], (string?)resolved.Single()!["startsAt"]);
        Assert.NotNull((string?)resolved[0]!["endsAt"]);
    }

    [Fact]
    public async Task An_unknown_state_is_a_400_saying_which_states_there_are()
    {
        await using var host = new CollectorHost(Settings());
        var response = await host.CreateClient().GetAsync("/alerts?state=burning");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("'firing' or 'resolved'", await response.Content.ReadAsStringAsync());
    }
}
