using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

public sealed class MqttIngestionTests : ServerTestBase
{

    [Fact]
    public async Task Lines_pushed_to_the_embedded_broker_reach_the_api()
    {
        var port = Ports.Free();
        var settings = Settings();
        settings["MQTT_EMBEDDED_BROKER_PORT"] = port.ToString();
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();
        await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>());

        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).Build());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = string.Join("\n", Enumerable.Range(0, 5).Select(i => SimulatedLines.Esp("FF-ESP-Hof", now - 60 + i * 15)));
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("/isems/FF-ESP-Hof/csvlog")
            .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        await Eventually(async () =>
            JsonNode.Parse(await client.GetStringAsync("/measurements/FF-ESP-Hof/latest"))!["measurements"]!.AsArray().Count == 5);
        var latest = JsonNode.Parse(await client.GetStringAsync("/measurements/latest"))!["measurements"]!.AsArray();
        Assert.Equal("FF-ESP-Hof", (string)Assert.Single(latest)!["nodeId"]!);
        var mqtt = JsonNode.Parse(await client.GetStringAsync("/mqtt"))!;
        Assert.Equal(1, (long)mqtt["messages"]!);
    }

    [Fact]
    public async Task What_nodes_publish_while_the_collector_process_is_down_arrives_after_it_starts()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var settings = Settings();
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = broker.Port.ToString();
        settings["MQTT_CLIENT_ID"] = "collector-under-test";
        await using (var first = new CollectorHost(settings))
        {
            var client = first.CreateClient();
            await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>());
        }

        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).Build());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var round = 0; round < 20; round++)
        {
            var payload = string.Join("\n", Enumerable.Range(round, 5).Select(i => SimulatedLines.Esp("FF-ESP-Hof", now - 3600 + i * 15)));
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("isems/FF-ESP-Hof/csvlog")
                .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await using var second = new CollectorHost(settings);
        var api = second.CreateClient();
        await Eventually(async () =>
            JsonNode.Parse(await api.GetStringAsync("/measurements/FF-ESP-Hof/latest"))!["measurements"]!.AsArray().Count == 24);
        await Eventually(async () => JsonNode.Parse(await api.GetStringAsync("/mqtt"))!["awaitingCommit"]!.GetValue<int>() == 0);
    }

    [Fact]
    public async Task Without_a_broker_the_mqtt_endpoint_says_how_to_configure_one()
    {
        await using var host = new CollectorHost(Settings());
        var response = await host.CreateClient().GetAsync("/mqtt");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("MQTT_SERVER", await response.Content.ReadAsStringAsync());
    }

}
