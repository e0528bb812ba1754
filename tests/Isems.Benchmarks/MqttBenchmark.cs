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
        var live = messages / 2;
        var backlog = messages - live;

        var payloads = Messages(messages);
        Report.Header($"mqtt: {messages:N0} messages of 5 overlapping lines from {Nodes:N0} nodes, Mosquitto on loopback, QoS 1");
        var ceiling = await CeilingAsync(broker.Port, payloads);
        Report.Row("ceiling: backlog drained by a client that does nothing", messages / ceiling.TotalSeconds, "msgs/s");

        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Path.Combine(folder.FullName, "mqtt.db")}", folder.FullName));
        store.Migrate();
        using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        // The writer's commits counted through its own metric (lines per commit): how well the drain batches.
        using var meter = new System.Diagnostics.Metrics.Meter("isems-bench-mqtt");
        long commits = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == meter && instrument.Name == "isems_write_batch_lines") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref commits));
        listener.Start();
        var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions(), new Isems.Actors.CollectorMetrics(meter)), "writer");
        var polling = new PollingOptions { Scheduled = false };
        var nodes = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling), "nodes");
        var options = new MqttOptions { Server = "127.0.0.1", Port = broker.Port, ClientId = "collector-bench" };

        // Live: the collector connected while the nodes publish.
        var bridge = system.ActorOf(MqttBridgeActor.Props(options, nodes));
        await UntilAsync(async () => (await bridge.Ask<MqttStatus>(new GetMqttStatus())).Connected);
        var watch = Stopwatch.StartNew();
        var published = TimeSpan.Zero;
        var publishing = PublishAsync(broker.Port, payloads, 0, live).ContinueWith(t => { published = watch.Elapsed; return t; }).Unwrap();
        var liveRun = await UntilStoredAsync(bridge, store, DistinctLines(live), live, publishing);
        await publishing;
        var liveTime = watch.Elapsed;
        Report.Summary("MQTT live, publish to commit, 5-line payloads", $"{live / liveTime.TotalSeconds:N0} msgs/s",
            "the publishers, Mosquitto and the collector on one machine", "≥ 20,000 msgs/s", live / liveTime.TotalSeconds >= 20_000);
        Report.Row("collector, live: publish to commit", live / liveTime.TotalSeconds, "msgs/s",
            $"{liveTime.TotalSeconds:0.0} s for {live:N0}, the publishers done after {published.TotalSeconds:0.0} s; {liveRun}");

        // Backlog: the collector away while the other half is published, then drained.
        await bridge.GracefulStop(TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        watch.Restart();
        await PublishAsync(broker.Port, payloads, live, messages);
        Report.Row("publishers alone (8 connections, QoS 1, no subscriber)", backlog / watch.Elapsed.TotalSeconds, "msgs/s",
            "what the live row can reach at most on this machine");
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var memoryBefore = process.WorkingSet64;
        // CPU, allocations and collections of the drain: on a machine shared with other work the rate moves with the
        // load, these much less, so two builds can be compared where the rates cannot.
        var cpuBefore = process.TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes();
        var collectionsBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var commitsBefore = Interlocked.Read(ref commits);
        watch.Restart();
        bridge = system.ActorOf(MqttBridgeActor.Props(options, nodes));
        var drainRun = await UntilStoredAsync(bridge, store, DistinctLines(messages), backlog, null);
        var drain = watch.Elapsed;
        process.Refresh();
        var drainCpu = process.TotalProcessorTime - cpuBefore;
        var drainAllocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        var drainCommits = Interlocked.Read(ref commits) - commitsBefore;
        var collections = (GC.CollectionCount(0) - collectionsBefore.Item1, GC.CollectionCount(1) - collectionsBefore.Item2,
            GC.CollectionCount(2) - collectionsBefore.Item3);
        Report.Summary("MQTT backlog drained after a restart", $"{backlog / drain.TotalSeconds:N0} msgs/s",
            $"Mosquitto to a client that does nothing: {messages / ceiling.TotalSeconds:N0} msgs/s", "≥ 20,000 msgs/s", backlog / drain.TotalSeconds >= 20_000);
        Report.Row("collector, backlog drained after a restart", backlog / drain.TotalSeconds, "msgs/s",
            $"{backlog / drain.TotalSeconds / (messages / ceiling.TotalSeconds):P0} of the ceiling; {drain.TotalSeconds:0.0} s for {backlog:N0}; " +
            $"resident memory {memoryBefore / 1048576:N0} MiB before, peak {drainRun.PeakResident / 1048576:N0} MiB; {drainRun}");
        Report.Row("collector, backlog drained: CPU per message", drainCpu.TotalMicroseconds / backlog, "µs",
            $"the process's CPU {drainCpu.TotalSeconds:0.00} s for {backlog:N0} (the benchmark's sampling included); " +
            $"allocated {drainAllocated / (double)backlog:N0} bytes a message; collections gen0/1/2 {collections.Item1}/{collections.Item2}/{collections.Item3}; " +
            $"{drainCommits:N0} commits, {(DistinctLines(messages) - DistinctLines(live)) / (double)Math.Max(1, drainCommits):N0} new lines a commit");
        var rows = await store.CountAsync();
        Report.Row("rows stored (one per distinct line)", rows, "rows",
            rows == DistinctLines(messages) ? "every distinct line" : $"MISSING {DistinctLines(messages) - rows:N0} of {DistinctLines(messages):N0}");

        await system.Terminate();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }

    /// <summary>What a phase saw: the bridge's counters and the peaks sampled while it ran.</summary>
    private sealed record Run(long Messages, long Redelivered, long Acknowledged, int PeakAwaitingCommit, long PeakResident, long Rows, long Expected)
    {
        public override string ToString() =>
            $"{Rows:N0}/{Expected:N0} rows; bridge: {Messages:N0} messages ({Redelivered:N0} redelivered), {Acknowledged:N0} acks, at most {PeakAwaitingCommit:N0} awaiting commit";
    }

    /// <summary>
    /// Waits until the bridge has acknowledged every message (each one committed) and every distinct line is stored,
    /// sampling resident memory; gives up when nothing moves for a minute (a stall is a result, printed, not a hang).
    /// Rows alone would end too early: a node's later message carries the lines of the ones before it.
    /// </summary>
    private static async Task<Run> UntilStoredAsync(IActorRef bridge, MeasurementStore store, long expected, long messages, Task? publishing)
    {
        var process = Process.GetCurrentProcess();
        long peak = 0, rows = 0, lastAcks = -1;
        var lastProgress = Stopwatch.StartNew();
        var sinceCount = Stopwatch.StartNew();
        MqttStatus status;
        while (true)
        {
            await Task.Delay(50);
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
            status = await bridge.Ask<MqttStatus>(new GetMqttStatus());
            if (status.Acknowledged != lastAcks)
            {
                lastAcks = status.Acknowledged;
                lastProgress.Restart();
            }
            // Counting a million rows is not free: only when the bridge is idle, or every few seconds.
            if ((status.AwaitingCommit == 0 && status.Acknowledged >= messages && publishing is null or { IsCompleted: true })
                || sinceCount.Elapsed > TimeSpan.FromSeconds(5))
            {
                rows = await store.CountAsync();
                sinceCount.Restart();
                if (rows >= expected && status.AwaitingCommit == 0 && status.Acknowledged >= messages) break;
            }
            if (lastProgress.Elapsed > TimeSpan.FromMinutes(1) && publishing is null or { IsCompleted: true })
            {
                Console.WriteLine($"  STALLED: no acknowledgement for a minute, {status.AwaitingCommit:N0} awaiting commit, last error: {status.LastError}");
                rows = await store.CountAsync();
                break;
            }
        }
        return new Run(status.Messages, status.Redelivered, status.Acknowledged, status.PeakAwaitingCommit, peak, rows, expected);
    }

    /// <summary>Distinct lines in the first <paramref name="messages"/> messages: each node's rounds, plus the 4 older lines of its first.</summary>
    private static long DistinctLines(int messages)
    {
        long total = 0;
        for (var node = 0; node < Nodes && node < messages; node++)
            total += (messages - 1 - node) / Nodes + 1 + 4;
        return total;
    }

    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Message <paramref name="m"/>: node m % 1000, its round m / 1000 and the four lines before it (65 s apart).</summary>
    private static byte[] Payload(int m)
    {
        var node = m % Nodes;
        var round = m / Nodes;
        var lines = Enumerable.Range(round, 5).Select(i => SimulatedLines.Esp($"esp-{node:0000}", Now - (100_000 - i) * 65L));
        return Encoding.UTF8.GetBytes(string.Join("\n", lines));
    }

    /// <summary>
    /// Eight publishing connections (<see cref="MqttLoadPublisher"/>), QoS 1, the payloads made beforehand: the nodes
    /// are other machines, so the load generator should take as little of this one as it can.
    /// </summary>
    private static async Task PublishAsync(int port, (byte[] Topic, byte[] Payload)[] messages, int from, int to)
    {
        const int publishers = 8;
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(async p =>
        {
            await using var client = await MqttLoadPublisher.ConnectAsync(port, $"node-pub-{p}");
            for (var m = from + p; m < to; m += publishers)
                await client.PublishAsync(messages[m].Topic, messages[m].Payload);
            await client.CompleteAsync();
        }));
    }

    private static (byte[] Topic, byte[] Payload)[] Messages(int count) =>
        Enumerable.Range(0, count).Select(m => (Encoding.UTF8.GetBytes($"/isems/esp-{m % Nodes:0000}/csvlog"), Payload(m))).ToArray();

    private static async Task<TimeSpan> CeilingAsync(int port, (byte[] Topic, byte[] Payload)[] payloads)
    {
        // The bridge's receive maximum, and socket buffers well above MQTTnet's 8 KiB default (which would make the
        // ceiling a TCP window artefact), so only the work differs.
        var bridge = new MqttOptions { Server = "127.0.0.1" };
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port).WithReceiveMaximum(bridge.MaxAwaitingCommit).WithClientId("ceiling")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(3600).Build();
        ((MqttClientTcpOptions)options.ChannelOptions).BufferSize = 1024 * 1024;
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(options);
        await client.SubscribeAsync("/isems/+/csvlog", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.DisconnectAsync();
        var messages = payloads.Length;
        await PublishAsync(port, payloads, 0, messages);

        long received = 0;
        client.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref received);
            return Task.CompletedTask;
        };
        var watch = Stopwatch.StartNew();
        await client.ConnectAsync(options);
        await UntilAsync(() => Task.FromResult(Interlocked.Read(ref received) >= messages));
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
