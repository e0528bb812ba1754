using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Microsoft.Data.Sqlite;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Benchmarks;

/// <summary>
/// Messages per second from publish to commit through a real Mosquitto, with ESP-like overlapping 5-line payloads
/// (each message one new line and four already sent), live and as a backlog drained after the collector was away,
/// beside the same broker's rate to a client that does nothing with the messages (the ceiling).
/// </summary>
internal static class MqttBenchmark
{
    private const int Nodes = 1000;

    public static async Task RunAsync(int messages)
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var payloads = BuildPayloads(messages);

        Report.Header($"mqtt: {messages:N0} messages of 5 overlapping lines from {Nodes:N0} nodes, Mosquitto on loopback, QoS 1");
        var ceiling = await CeilingAsync(broker.Port, payloads);
        Report.Row("ceiling: backlog drained by a client that does nothing", messages / ceiling.TotalSeconds, "msgs/s");

        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Path.Combine(folder.FullName, "mqtt.db")}", folder.FullName));
        store.Migrate();
        var process = Process.GetCurrentProcess();
        using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
        var polling = new PollingOptions { Scheduled = false };
        var nodes = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling), "nodes");
        var options = new MqttOptions { Server = "127.0.0.1", Port = broker.Port, ClientId = "collector-bench" };

        // Live: the collector connected while the nodes publish.
        var bridge = system.ActorOf(MqttBridgeActor.Props(options, nodes));
        await UntilAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus())).Connected);
        var watch = Stopwatch.StartNew();
        await PublishAsync(broker.Port, payloads[..(messages / 2)]);
        await UntilAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus())) is { AwaitingCommit: 0 } s && s.Messages >= messages / 2);
        var live = watch.Elapsed;
        Report.Row("collector, live: publish to commit", messages / 2 / live.TotalSeconds, "msgs/s",
            $"{live.TotalSeconds:0.0} s for {messages / 2:N0}; {(await store.CountAsync()):N0} rows");

        // Backlog: the collector away while the other half is published, then drained.
        await bridge.GracefulStop(TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        await PublishAsync(broker.Port, payloads[(messages / 2)..]);
        process.Refresh();
        var memoryBefore = process.WorkingSet64;
        watch.Restart();
        bridge = system.ActorOf(MqttBridgeActor.Props(options, nodes));
        long peak = 0;
        await UntilAsync(async () =>
        {
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
            return (await bridge.Ask<MqttStatus>(new GetMqttStatus())) is { AwaitingCommit: 0 } s && s.Messages >= messages - messages / 2;
        });
        var drain = watch.Elapsed;
        Report.Row("collector, backlog drained after a restart", (messages - messages / 2) / drain.TotalSeconds, "msgs/s",
            $"{ceiling / drain / 2:P0} of the ceiling; resident memory {memoryBefore / 1048576:N0} MiB before, peak {peak / 1048576:N0} MiB");
        Report.Row("rows stored (one per distinct line)", await store.CountAsync(), "rows");

        await system.Terminate();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }

    private static byte[][] BuildPayloads(int messages)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var rounds = messages / Nodes;
        var payloads = new byte[messages][];
        for (var m = 0; m < messages; m++)
        {
            var node = m % Nodes;
            var round = m / Nodes;
            var lines = Enumerable.Range(round, 5).Select(i => SimulatedLines.Esp($"esp-{node:0000}", now - (rounds + 5 - i) * 65L));
            payloads[m] = Encoding.UTF8.GetBytes(string.Join("\n", lines));
        }
        return payloads;
    }

    /// <summary>Eight publishing clients, each awaiting the broker's acknowledgement of every message (QoS 1).</summary>
    private static async Task PublishAsync(int port, byte[][] payloads)
    {
        const int publishers = 8;
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(async p =>
        {
            using var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId($"node-pub-{p}").Build());
            for (var m = p; m < payloads.Length; m += publishers)
            {
                var topic = $"/isems/esp-{m % Nodes:0000}/csvlog";
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payloads[m])
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }
            await client.DisconnectAsync();
        }));
    }

    private static async Task<TimeSpan> CeilingAsync(int port, byte[][] payloads)
    {
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("ceiling")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(3600).Build();
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(options);
        await client.SubscribeAsync("/isems/+/csvlog", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.DisconnectAsync();
        await PublishAsync(port, payloads);

        long received = 0;
        client.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref received);
            return Task.CompletedTask;
        };
        var watch = Stopwatch.StartNew();
        await client.ConnectAsync(options);
        await UntilAsync(() => Task.FromResult(Interlocked.Read(ref received) >= payloads.Length));
        var elapsed = watch.Elapsed;
        await client.DisconnectAsync();
        return elapsed;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the benchmark did not finish within 10 minutes");
            await Task.Delay(20);
        }
    }
}
