using System.Text;
using Akka.Actor;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Simulator;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>The bridge against a real Mosquitto broker, stopped and started under it.</summary>
public sealed class MqttBridgeMosquittoTests(ITestOutputHelper output) : CollectorTestKit(output)
{
    private static readonly long Clock = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string Line(string node, int i) => SimulatedLines.Esp(node, Clock - 86_000 + i * 15L);

    private static string Payload(string node, int last) =>
        string.Join("\n", Enumerable.Range(Math.Max(0, last - 4), Math.Min(5, last + 1)).Select(i => Line(node, i)));

    private static MqttClientOptions PublisherOptions(int port) =>
        new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("publisher").WithTimeout(TimeSpan.FromSeconds(2)).Build();

    /// <summary>Publishes as a node does, and keeps trying until the broker has taken the message (QoS 1).</summary>
    private static async Task PublishUntilTakenAsync(IMqttClient client, int port, string topic, string payload)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        Exception? last = null;
        for (var attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                if (!client.IsConnected) await client.ConnectAsync(PublisherOptions(port));
                var result = await client.PublishAsync(message);
                if (result.IsSuccess) return;
                last = new InvalidOperationException(result.ReasonCode.ToString());
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                last = e;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("the broker never took the message", last);
    }

    /// <summary>The collector with its MQTT bridge, as the product composes it.</summary>
    private async Task<IActorRef> BridgeAsync(int port) =>
        (await StartCollectorAsync(mqtt: new MqttOptions { Server = "127.0.0.1", Port = port, ClientId = "collector", JitterSeed = 1 })).Bridge;

    /// <summary>Waits for a condition while letting virtual time run, so the bridge's reconnect timers fire.</summary>
    private async Task EventuallyAsync(Func<Task<bool>> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {seconds} s");
            Scheduler.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(50);
        }
    }

    private async Task<bool> Connected(IActorRef bridge) => (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))).Connected;

    [Fact]
    public async Task A_broker_restart_mid_stream_loses_no_published_line()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var bridge = await BridgeAsync(broker.Port);
        await EventuallyAsync(() => Connected(bridge));
        using var publisher = new MqttClientFactory().CreateMqttClient();

        Task? restart = null;
        for (var i = 0; i < 200; i++)
        {
            if (i == 80)
            {
                await broker.StopAsync();
                // Back after a second; the node keeps trying to publish meanwhile, as ESP boards do.
                restart = Task.Delay(1000).ContinueWith(_ => broker.StartAsync()).Unwrap();
            }
            // A node publishes one new line per message here, so every line counts.
            await PublishUntilTakenAsync(publisher, broker.Port, $"/isems/esp-{i % 4}/csvlog", Line($"esp-{i % 4}", i));
        }

        await restart!;
        await EventuallyAsync(async () => await Store.CountAsync() == 200);
        var status = await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3));
        Assert.True(status.Reconnects >= 1);
    }

    [Fact]
    public async Task What_nodes_publish_while_the_collector_is_down_arrives_when_it_is_back()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var first = await BridgeAsync(broker.Port);
        await EventuallyAsync(() => Connected(first));
        // The collector stops as SIGTERM stops it; the broker keeps what is published meanwhile.
        await StopCollectorAsync();
        await Task.Delay(200);

        using var publisher = new MqttClientFactory().CreateMqttClient();
        for (var i = 0; i < 100; i++)
            await PublishUntilTakenAsync(publisher, broker.Port, "isems/esp-7/csvlog", Payload("esp-7", i));

        var second = await BridgeAsync(broker.Port);
        await EventuallyAsync(async () => await Store.CountAsync() == 100);
        await EventuallyAsync(async () => (await second.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))).AwaitingCommit == 0);
    }

    [Fact]
    public async Task A_thousand_bad_payloads_mixed_with_good_ones_store_exactly_the_good_lines()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var bridge = await BridgeAsync(broker.Port);
        await EventuallyAsync(() => Connected(bridge));
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(PublisherOptions(broker.Port));

        byte[][] bad = [[], [0xC3, 0x28, 0x3B], new byte[70_000], Encoding.UTF8.GetBytes("nothing;valid;here")];
        var expected = new Dictionary<string, long>();
        for (var i = 0; i < 1000; i++)
        {
            var payload = bad[i % bad.Length];
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("/isems/esp-bad/csvlog").WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("/isems/esp-good/csvlog")
                .WithPayload(Encoding.UTF8.GetBytes(Line("esp-good", i))).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await EventuallyAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))) is { Messages: 2000, AwaitingCommit: 0 });
        var status = await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3));
        Assert.Equal(1000, await Store.CountAsync());
        Assert.Equal(new Dictionary<string, long> { ["empty"] = 250, ["not_utf8"] = 250, ["too_large"] = 250, ["no_valid_line"] = 250 }, status.Dropped);
    }

    [Fact]
    public async Task A_backlog_beyond_the_bound_waits_at_the_broker_until_commits_make_room_and_then_all_arrives()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        // A probe stands in for the node actors: nothing is committed until it answers.
        var nodes = CreateTestProbe();
        var options = new MqttOptions { Server = "127.0.0.1", Port = broker.Port, ClientId = "collector", JitterSeed = 1, MaxAwaitingCommit = 20 };
        var bridge = Sys.ActorOf(MqttBridgeActor.Props(options, nodes.Ref));
        await EventuallyAsync(() => Connected(bridge));
        using var publisher = new MqttClientFactory().CreateMqttClient();
        const int backlog = 300;
        for (var i = 0; i < backlog; i++)
            await PublishUntilTakenAsync(publisher, broker.Port, $"/isems/esp-{i % 3}/csvlog", Payload($"esp-{i % 3}", i));

        // The bridge stops reading at the bound: what it read reaches it, and no more.
        await EventuallyAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))) is { ReadingPaused: true } s
            && s.Messages == s.Unacknowledged);
        var held = (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))).Messages;
        Output?.WriteLine($"held while nothing was committed: {held}");
        Assert.InRange(held, options.MaxAwaitingCommit, backlog - 1);

        // Commits make room: the rest comes, each message acknowledged once committed.
        var answered = 0;
        while (answered < backlog)
        {
            var ingest = nodes.ExpectMsg<IngestLines>(TimeSpan.FromSeconds(10));
            nodes.Reply(new LinesIngested(ingest.NodeKey, ingest.Tag, ingest.Lines.Count, 0));
            answered++;
        }
        await EventuallyAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))) is { Acknowledged: backlog, AwaitingCommit: 0 });
        Assert.True((await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))).PeakAwaitingCommit < backlog);
    }

    [Fact]
    public async Task A_json_measurement_on_a_data_json_topic_is_stored_like_its_line_and_bad_json_is_counted()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var bridge = await BridgeAsync(broker.Port);
        await EventuallyAsync(() => Connected(bridge));
        using var publisher = new MqttClientFactory().CreateMqttClient();

        var json = $$"""
            {"nodeId":"esp-json","isemsRevision":"1","timestamp":{{Clock - 600}},"openMPPTFirmwareVersion":"ESP_2.0","timeToShutdown":0,
             "isPowerSaveMode":0,"openCircuitVoltage":14.8,"mppVoltage":13.1,"batteryVoltage":12.2,"batteryChargeEstimate":55,
             "batteryHealthEstimate":100,"batteryTemperature":16,"lowVoltageDisconnectVoltage":11.7,"temperatureCorrectedVoltage":14.2,
             "rateBatteryCapacity":7,"ratedSolarModuleCapacity":20,"latitude":52.5,"longitude":13.4,"status":"902"}
            """;
        await PublishUntilTakenAsync(publisher, broker.Port, "isems/esp-json/data.json", json);
        await PublishUntilTakenAsync(publisher, broker.Port, "/isems/esp-json/data.json", "{\"nodeId\":");
        await PublishUntilTakenAsync(publisher, broker.Port, "/isems/esp-json/data.json", json.Replace("\"timestamp\":", "\"timestamp\":\"x\",\"t\":"));

        await EventuallyAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3))) is { Messages: 3, AwaitingCommit: 0 });
        var status = await bridge.Ask<MqttStatus>(new GetMqttStatus(), TimeSpan.FromSeconds(3));
        var stored = Assert.Single(await Store.LatestPerNodeAsync());
        Assert.Equal(("esp-json", Clock - 600, 0x902), (stored.Measurement.NodeId, stored.Measurement.Timestamp, stored.Measurement.Status));
        Assert.Equal(new Dictionary<string, long> { ["not_json"] = 1, ["no_valid_line"] = 1 }, status.Dropped);
    }
}
