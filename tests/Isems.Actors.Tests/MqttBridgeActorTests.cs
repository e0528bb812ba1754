using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Simulator;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>The bridge against a real broker: MQTTnet's server, in-process on a loopback port.</summary>
public sealed class MqttBridgeActorTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    private static readonly long Clock = DateTimeOffset.UtcNow.ToUnixTimeSeconds();


    private static async Task<MqttServer> StartBrokerAsync(int port)
    {
        var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(port)
            .WithPersistentSessions().Build());
        await server.StartAsync();
        return server;
    }

    private static async Task<IMqttClient> PublisherAsync(int port)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("publisher").Build());
        return client;
    }

    private static Task PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static string EspPayload(string node, int first) =>
        string.Join("\n", Enumerable.Range(first, 5).Select(i => SimulatedLines.Esp(node, Clock - 7200 + i * 15L)));

    private MqttStatus AwaitLink(IActorRef bridge, Func<MqttStatus, bool> condition)
    {
        MqttStatus status = null!;
        AwaitAssert(() =>
        {
            status = bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();
            Assert.True(condition(status), $"{status}");
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
        return status;
    }

    private async Task<(MqttServer Broker, IActorRef Nodes, IActorRef Bridge, IMqttClient Publisher, int Port)> ConnectedAsync()
    {
        var port = Ports.Free();
        var broker = await StartBrokerAsync(port);
        var collector = await StartCollectorAsync(mqtt: new MqttOptions { Server = "127.0.0.1", Port = port, ClientId = "collector" });
        var (nodes, bridge) = (collector.Nodes, collector.Bridge);
        AwaitLink(bridge, s => s.Connected);
        return (broker, nodes, bridge, await PublisherAsync(port), port);
    }

    [Fact]
    public async Task Overlapping_payloads_from_many_nodes_store_every_distinct_line_once()
    {
        var (broker, nodes, bridge, publisher, _) = await ConnectedAsync();
        using var _broker = broker;
        using var _publisher = publisher;

        // 20 nodes, each publishing its last 5 lines every 15 s for 10 rounds: each line arrives up to 5 times.
        for (var round = 0; round < 10; round++)
            for (var n = 0; n < 20; n++)
                await PublishAsync(publisher, n % 2 == 0 ? $"/isems/esp-{n}/csvlog" : $"isems/esp-{n}/csvlog",
                    Encoding.UTF8.GetBytes(EspPayload($"esp-{n}", round)));

        AwaitAssert(() => Assert.Equal(20 * 14, Store.CountAsync().GetAwaiter().GetResult()), TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));
        var status = AwaitLink(bridge, s => s.Messages == 200 && s.AwaitingCommit == 0);
        Assert.Equal(0, status.TopicMismatches);
        var node = await nodes.Ask<NodeStatus>(new GetNodeStatus("esp-3"), TimeSpan.FromSeconds(3));
        Assert.Equal(Clock - 7200 + 13 * 15L, node.Latest!.Measurement.Timestamp);
    }

    [Fact]
    public async Task Bad_payloads_are_counted_by_kind_and_never_take_the_good_lines()
    {
        var (broker, nodes, bridge, publisher, _) = await ConnectedAsync();
        using var _broker = broker;
        using var _publisher = publisher;

        await PublishAsync(publisher, "/isems/esp-1/csvlog", []);
        await PublishAsync(publisher, "/isems/esp-1/csvlog", [0xFF, 0xFE, 0x3B]);
        await PublishAsync(publisher, "/isems/esp-1/csvlog", new byte[70_000]);
        await PublishAsync(publisher, "/isems/esp-1/csvlog", Encoding.UTF8.GetBytes("garbage\n" + EspPayload("esp-1", 0) + "\nmore;garbage"));
        await PublishAsync(publisher, "/isems/esp-1/csvlog", Encoding.UTF8.GetBytes(EspPayload("esp-2", 0)));

        var status = AwaitLink(bridge, s => s.Messages == 5 && s.AwaitingCommit == 0);
        Assert.Equal(new Dictionary<string, long> { ["empty"] = 1, ["not_utf8"] = 1, ["too_large"] = 1 }, status.Dropped);
        Assert.Equal(1, status.TopicMismatches);
        Assert.Equal(10, await Store.CountAsync());
        var esp1 = await nodes.Ask<NodeStatus>(new GetNodeStatus("esp-1"), TimeSpan.FromSeconds(3));
        Assert.Equal(2, esp1.LinesRejected.Total);
    }

    [Fact]
    public async Task Messages_published_while_the_collector_is_away_arrive_when_it_returns()
    {
        var port = Ports.Free();
        using var broker = await StartBrokerAsync(port);
        var options = new MqttOptions { Server = "127.0.0.1", Port = port, ClientId = "collector" };
        var first = (await StartCollectorAsync(mqtt: options)).Bridge;
        AwaitLink(first, s => s.Connected);
        // The collector stops as SIGTERM stops it; the broker keeps what is published meanwhile.
        await StopCollectorAsync();
        for (var i = 0; i < 100 && (await broker.GetClientsAsync()).Any(c => c.Id == "collector"); i++) await Task.Delay(50);
        Assert.DoesNotContain(await broker.GetClientsAsync(), c => c.Id == "collector");

        using var publisher = await PublisherAsync(port);
        for (var round = 0; round < 5; round++) await PublishAsync(publisher, "/isems/esp-9/csvlog", Encoding.UTF8.GetBytes(EspPayload("esp-9", round)));

        var second = (await StartCollectorAsync(mqtt: options)).Bridge;
        AwaitAssert(() => Assert.Equal(9, Store.CountAsync().GetAwaiter().GetResult()), TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
        AwaitLink(second, s => s.Messages == 5 && s.AwaitingCommit == 0);
    }
}
