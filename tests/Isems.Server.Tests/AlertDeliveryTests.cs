using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

/// <summary>
/// SPEC §8's deliveries from the outside, with the real parts: a real Mosquitto for the retained alert topics, a real
/// Prometheus Alertmanager away and back, and the real host.
/// </summary>
public sealed class AlertDeliveryTests : ServerTestBase
{
    private static readonly long Start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;

    /// <summary>A node's log line at minute <paramref name="minute"/> with the given status bits (hex, as the node writes them).</summary>
    internal static string Line(string nodeId, int minute, string status)
    {
        var line = SimulatedLines.Router(nodeId, Start + minute * 60L);
        return line[..(line.LastIndexOf(';') + 1)] + status;
    }

    internal static IEnumerable<string> Lines(string nodeId, int from, int count, string status) =>
        Enumerable.Range(from, count).Select(i => Line(nodeId, i, status));

    private static async Task<JsonArray> Alerts(HttpClient client, string query = "") =>
        JsonNode.Parse(await client.GetStringAsync("/alerts" + query))!["alerts"]!.AsArray();

    private Dictionary<string, string> MqttSettings(MosquittoBroker broker)
    {
        var settings = Settings();
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = broker.Port.ToString();
        settings["MQTT_CLIENT_ID"] = $"collector-{Guid.NewGuid():N}";
        return settings;
    }

    [Fact]
    public async Task A_pushing_nodes_second_battery_low_line_is_retained_on_its_alert_topic_and_two_clear_lines_clear_it()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        await using var host = new CollectorHost(MqttSettings(broker));
        var client = host.CreateClient();
        await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>(), "the link up");
        await using var node = await Subscriber.ConnectAsync(broker.Port, null);
        await using var live = await Subscriber.ConnectAsync(broker.Port, "isems/alerts/#");
        const string topic = "isems/alerts/FF-ESP-Hof/BatteryLow";

        await node.PublishAsync("isems/FF-ESP-Hof/csvlog", Line("FF-ESP-Hof", 0, "980"));
        await Eventually(async () => await HistoryCount(client, "FF-ESP-Hof") == 1, "the first line stored");
        await Task.Delay(300);
        Assert.Empty(live.Messages); // one battery-low line is not yet an alert

        await node.PublishAsync("isems/FF-ESP-Hof/csvlog", Line("FF-ESP-Hof", 1, "980"));
        await Eventually(() => live.Messages.Any(m => m.Topic == topic), "the alert published", TimeSpan.FromSeconds(5));

        // A subscriber that comes later gets it from the broker, retained, as the alert object of GET /alerts.
        await using (var later = await Subscriber.ConnectAsync(broker.Port, "isems/alerts/#"))
        {
            await Eventually(() => later.Messages.Any(m => m.Topic == topic), "the retained alert");
            var retained = later.Messages.Single(m => m.Topic == topic);
            Assert.True(retained.Retained);
            var json = JsonNode.Parse(retained.Payload)!;
            var shown = (await Alerts(client, "?nodeId=FF-ESP-Hof&state=firing")).Single()!;
            Assert.Equal(("BatteryLow", "FF-ESP-Hof", "critical", "firing", null),
                ((string?)json["alertname"], (string?)json["nodeId"], (string?)json["severity"], (string?)json["state"], (string?)json["endsAt"]));
            Assert.Equal((string?)shown["startsAt"], (string?)json["startsAt"]);
            Assert.Equal((string?)shown["summary"], (string?)json["summary"]);
        }

        // Two clear lines: an empty retained message clears the topic.
        await node.PublishAsync("isems/FF-ESP-Hof/csvlog", Line("FF-ESP-Hof", 2, "900"));
        await node.PublishAsync("isems/FF-ESP-Hof/csvlog", Line("FF-ESP-Hof", 3, "900"));
        await Eventually(() => live.Messages.Any(m => m.Topic == topic && m.Payload.Length == 0), "the topic cleared", TimeSpan.FromSeconds(5));
        Assert.Equal(2, live.Messages.Count(m => m.Topic == topic));
        await using var afterwards = await Subscriber.ConnectAsync(broker.Port, "isems/alerts/#");
        // The marker, published after the subscription, arrives after any retained message would have.
        await node.PublishAsync("isems/alerts/marker", "x", retain: false);
        await Eventually(() => afterwards.Messages.Any(m => m.Topic == "isems/alerts/marker"), "the marker");
        Assert.DoesNotContain(afterwards.Messages, m => m.Topic == topic);
    }

    [Fact]
    public async Task An_alert_that_fired_while_Alertmanager_was_away_is_there_once_it_is_back()
    {
        var port = Ports.Free(); // nothing listens there yet
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980"));
        var settings = Settings(node);
        settings["ALERTMANAGER_URL"] = $"http://127.0.0.1:{port}";
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();

        await host.PollNowAsync(node.LogUrl.ToString());
        await Eventually(async () => (await Alerts(client, "?state=firing")).Count == 1, "BatteryLow firing");
        var startsAt = (string)(await Alerts(client, "?state=firing")).Single()!["startsAt"]!;
        // The bounded retries (about 7 s of backoff) ran out, and what was not delivered is counted.
        await Eventually(async () => (await client.GetStringAsync("/metrics")).Split('\n')
            .Any(l => l.StartsWith("isems_alert_deliveries_failed_total{", StringComparison.Ordinal) && l.Contains("target=\"alertmanager\"")),
            "the failed delivery counted", TimeSpan.FromSeconds(30));

        // Alertmanager comes: the minute's resend brings it the alert it missed, with its startsAt.
        await using var alertmanager = await AlertmanagerServer.StartAsync(port);
        JsonNode? shown = null;
        await Eventually(async () => (shown = (await alertmanager.AlertsAsync()).FirstOrDefault()) is not null,
            "the alert in Alertmanager once it is back", TimeSpan.FromSeconds(90));
        Assert.Equal(("BatteryLow", "Elektra-Dach", "active"),
            ((string?)shown!["labels"]!["alertname"], (string?)shown["labels"]!["node"], (string?)shown["status"]!["state"]));
        Assert.Equal(DateTimeOffset.Parse(startsAt), DateTimeOffset.Parse((string)shown["startsAt"]!));
    }

    /// <summary>The issue's done-when, from the outside, with a real Alertmanager and a real Mosquitto.</summary>
    [Fact]
    public async Task Battery_low_fires_and_resolves_a_silent_node_fires_everywhere_and_a_restart_changes_none_of_it()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        await using var alertmanager = await AlertmanagerServer.StartAsync();
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 1);
        node.ReplaceLog(Lines("Elektra-Dach", 0, 1, "980"));
        var settings = MqttSettings(broker);
        settings["ISEMS_ROUTER_IPS"] = node.LogUrl.ToString();
        settings["ALERTMANAGER_URL"] = alertmanager.Url.ToString();
        settings["ALERT_SILENT_MINUTES"] = "0.05"; // 3 s, the second look 0.3 s later
        await using var live = await Subscriber.ConnectAsync(broker.Port, "isems/alerts/#");
        const string battery = "isems/alerts/Elektra-Dach/BatteryLow", silent = "isems/alerts/Elektra-Dach/NodeSilent";
        Dictionary<string, string> startsAt;

        async Task<Dictionary<string, string>> ShownByAlertmanager() => (await alertmanager.AlertsAsync())
            .Where(a => (string?)a!["labels"]!["node"] == "Elektra-Dach")
            .ToDictionary(a => (string)a!["labels"]!["alertname"]!, a => (string)a!["startsAt"]!);

        await using (var first = new CollectorHost(settings))
        {
            var client = first.CreateClient();
            await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>(), "the link up");
            Assert.Equal(1, (await first.PollNowAsync(node.LogUrl.ToString())).Stored);
            node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980"));
            // The second line is stored by this poll, or by the one the actor under the log's address still had in
            // flight as the registry moved the node to its id (then this poll finds it stored): both lines are there.
            await first.PollNowAsync("Elektra-Dach");
            await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/measurements/Elektra-Dach/latest"))!["measurements"]!.AsArray().Count == 2,
                "both lines stored", TimeSpan.FromSeconds(10));
            // The second battery-low line fires BatteryLow within seconds; the node then says nothing: NodeSilent.
            await Eventually(async () => (await Alerts(client, "?state=firing")).Count == 2, "BatteryLow and NodeSilent firing", TimeSpan.FromSeconds(10));
            startsAt = (await Alerts(client, "?state=firing")).ToDictionary(a => (string)a!["alertname"]!, a => (string)a!["startsAt"]!);
            Assert.Equal(["BatteryLow", "NodeSilent"], startsAt.Keys.Order());
            await Eventually(() => live.Messages.Count(m => m.Topic is battery or silent) == 2, "both on the broker", TimeSpan.FromSeconds(5));
            await Eventually(async () => (await ShownByAlertmanager()).Count == 2, "both in Alertmanager", TimeSpan.FromSeconds(5));
            var shown = await ShownByAlertmanager();
            foreach (var (name, since) in startsAt) Assert.Equal(DateTimeOffset.Parse(since), DateTimeOffset.Parse(shown[name]));
        }

        // A restart: the same alerts, the same startsAt; nothing published again, Alertmanager still shows them as they were.
        await using var second = new CollectorHost(settings);
        var after = second.CreateClient();
        await Eventually(async () => JsonNode.Parse(await after.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>(), "the link up again");
        var restored = (await Alerts(after, "?state=firing")).ToDictionary(a => (string)a!["alertname"]!, a => (string)a!["startsAt"]!);
        Assert.Equal(startsAt, restored);
        await second.PollNowAsync("Elektra-Dach"); // nothing new in the log
        await Task.Delay(1500);
        Assert.Equal(2, live.Messages.Count(m => m.Topic is battery or silent));
        Assert.Equal(2, (await Alerts(after)).Count);
        var stillShown = await ShownByAlertmanager();
        foreach (var (name, since) in startsAt) Assert.Equal(DateTimeOffset.Parse(since), DateTimeOffset.Parse(stillShown[name]));
        await using (var later = await Subscriber.ConnectAsync(broker.Port, "isems/alerts/#"))
            await Eventually(() => later.Messages.Count(m => m.Retained && m.Topic is battery or silent) == 2, "both still retained");

        // Two clear lines: BatteryLow resolves, and the node is no longer silent: cleared on the broker, gone from Alertmanager.
        node.ReplaceLog(Lines("Elektra-Dach", 0, 2, "980").Concat(Lines("Elektra-Dach", 2, 2, "900")));
        Assert.Equal(2, (await second.PollNowAsync("Elektra-Dach")).Stored);
        await Eventually(async () => (await Alerts(after, "?state=firing")).Count == 0, "both resolved", TimeSpan.FromSeconds(5));
        await Eventually(() => live.Messages.Count(m => m.Topic is battery or silent && m.Payload.Length == 0) == 2, "both cleared", TimeSpan.FromSeconds(5));
        await Eventually(async () => (await ShownByAlertmanager()).Count == 0, "both resolved in Alertmanager", TimeSpan.FromSeconds(5));
        var resolved = await Alerts(after, "?state=resolved");
        foreach (var (name, since) in startsAt)
            Assert.Equal(since, (string)resolved.Single(a => (string)a!["alertname"]! == name)!["startsAt"]!);
    }

    /// <summary>An MQTT client of the test: a node publishing lines, or a subscriber collecting what arrives.</summary>
    internal sealed class Subscriber : IAsyncDisposable
    {
        private readonly IMqttClient _client;
        private readonly ConcurrentQueue<(string Topic, byte[] Payload, bool Retained)> _messages = new();

        private Subscriber(IMqttClient client) => _client = client;

        public IReadOnlyList<(string Topic, byte[] Payload, bool Retained)> Messages => _messages.ToArray();

        public static async Task<Subscriber> ConnectAsync(int port, string? filter)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var subscriber = new Subscriber(client);
            client.ApplicationMessageReceivedAsync += args =>
            {
                subscriber._messages.Enqueue((args.ApplicationMessage.Topic, System.Buffers.BuffersExtensions.ToArray(args.ApplicationMessage.Payload), args.ApplicationMessage.Retain));
                return Task.CompletedTask;
            };
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart().Build());
            if (filter is not null)
                await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                    .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
            return subscriber;
        }

        public Task PublishAsync(string topic, string payload, bool retain = false) => _client.PublishAsync(
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build());

        public async ValueTask DisposeAsync()
        {
            await _client.DisconnectAsync();
            _client.Dispose();
        }
    }
}
