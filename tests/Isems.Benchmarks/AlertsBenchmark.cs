using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Isems.Actors;
using Isems.Actors.Alerts;
using Isems.Actors.Mqtt;
using Isems.Actors.Nodes;
using Isems.Actors.Polling;
using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using Microsoft.Data.Sqlite;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Benchmarks;

/// <summary>
/// 10,000 nodes turning critical at once: each pushes two lines reporting battery low (as the MQTT bridge hands them
/// to the node actors), so each fires BatteryLow: evaluated in the node actors, saved to the <c>alerts</c> table of the
/// same SQLite file the lines go to, and published retained through a real Mosquitto. Beside it, in the same run and
/// the same process, the same ingestion of 10,000 other nodes whose lines report nothing (the baseline), before and
/// after, and the 10,000 alerts resolving (two clear lines each).
/// </summary>
internal static class AlertsBenchmark
{
    private const string Clear = "900", BatteryLow = "980";

    public static async Task RunAsync(int nodes)
    {
        Report.Header($"alerts: {nodes:N0} nodes, 2 pushed lines each, SQLite, alerts saved and published retained through Mosquitto (QoS 1)");
        await using var broker = await MosquittoBroker.StartNewAsync();
        var folder = Directory.CreateTempSubdirectory("isems-bench-");
        using var store = new MeasurementStore(DatabaseTarget.Parse($"sqlite:///{Path.Combine(folder.FullName, "alerts.db")}", folder.FullName));
        store.Migrate();
        using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = ERROR"));
        var metrics = CollectorMetrics.None;
        var writer = system.ActorOf(MeasurementWriterActor.Props(store, new WriterOptions()), "writer");
        var polling = new PollingOptions { Scheduled = false };
        var manager = system.ActorOf(NodeManagerActor.Props(writer, NodeLogFetcher.Create(polling), polling), "nodes");
        var book = system.ActorOf(AlertBookActor.Props(store, []), "alerts");
        ActorRegistry.For(system).Register<AlertBookActor>(book);
        var bridge = system.ActorOf(MqttBridgeActor.Props(new MqttOptions { Server = "127.0.0.1", Port = broker.Port, ClientId = "collector-bench" }, manager));
        system.ActorOf(MqttAlertsActor.Props(bridge, metrics), "alert-mqtt");
        while (!(await bridge.Ask<MqttStatus>(new GetMqttStatus())).Connected) await Task.Delay(20);

        // What the broker holds: a subscriber counting alert publications (retained and cleared).
        long published = 0, cleared = 0;
        using var watcher = new MqttClientFactory().CreateMqttClient();
        watcher.ApplicationMessageReceivedAsync += args =>
        {
            if (args.ApplicationMessage.Payload.Length == 0) Interlocked.Increment(ref cleared);
            else Interlocked.Increment(ref published);
            return Task.CompletedTask;
        };
        await watcher.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).Build());
        await watcher.SubscribeAsync("isems/alerts/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var recorded = new AlertCounter();
        system.EventStream.Subscribe(system.ActorOf(Props.Create(() => new AlertCountingActor(recorded))), typeof(AlertRecorded));

        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 7200;
        // Warm-up (actors created, JIT, the database's pages), untimed: a fleet's worth of quiet nodes, and a tenth of it
        // firing and resolving, so the alert path is warm too.
        await IngestAsync(system, manager, "warm", nodes, start, Clear, 0);
        await IngestAsync(system, manager, "warm-crit", nodes / 10, start, BatteryLow, 0);
        await IngestAsync(system, manager, "warm-crit", nodes / 10, start, Clear, 2);
        await UntilAsync(() => recorded.Count >= 2 * (nodes / 10) && Interlocked.Read(ref cleared) >= nodes / 10, Stopwatch.StartNew());
        recorded.Reset();
        Interlocked.Exchange(ref published, 0);
        Interlocked.Exchange(ref cleared, 0);

        // New nodes each: quiet, critical, quiet again, so the baseline surrounds what it is compared with.
        var fired = await PhaseAsync(system, manager, nodes, start, minute: 0, BatteryLow,
            () => recorded.Count >= nodes, () => Interlocked.Read(ref published) >= nodes,
            $"{nodes:N0} nodes turning critical at once", "new nodes, 2 lines each, nothing fires", "on the broker");
        // The same nodes again (their actors exist now): quiet ones, then the critical ones resolving.
        var resolved = await PhaseAsync(system, manager, nodes, start, minute: 2, Clear,
            () => recorded.Count >= 2 * nodes, () => Interlocked.Read(ref cleared) >= nodes,
            $"{nodes:N0} alerts resolving at once (2 clear lines each)", "known nodes, 2 more lines each", "cleared on the broker");
        var (critical, baseline, firedPublished) = fired;
        var (resolving, baselineAgain, resolvedCleared) = resolved;
        Report.Summary($"{nodes:N0} nodes turning critical at once: ingestion", $"{nodes * 2 / critical.TotalSeconds:N0} lines/s",
            $"the same ingestion, nothing firing: {nodes * 2 / baseline.TotalSeconds:N0} lines/s; every alert on the broker after {firedPublished.TotalSeconds:0.0} s");
        Report.Summary($"{nodes:N0} alerts resolving at once: ingestion", $"{nodes * 2 / resolving.TotalSeconds:N0} lines/s",
            $"the same ingestion, nothing resolving: {nodes * 2 / baselineAgain.TotalSeconds:N0} lines/s; every topic cleared after {resolvedCleared.TotalSeconds:0.0} s");
        var firing = await book.Ask<AlertList>(new GetAlerts(State: AlertState.Firing));
        Report.Row("alerts firing at the end (all resolved)", firing.Alerts.Count, "alerts");

        await watcher.DisconnectAsync();
        await system.Terminate();
        SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }

    /// <summary>
    /// One measured phase: new/known quiet nodes (<c>quiet-a</c>), then the <c>crit</c> nodes pushing
    /// <paramref name="status"/>, then other quiet nodes (<c>quiet-b</c>), so the baseline surrounds what it is compared
    /// with; waits until the alerts are saved and on the broker. Returns the measured ingestion, the baselines' mean and
    /// when the last alert reached the broker.
    /// </summary>
    private static async Task<(TimeSpan Measured, TimeSpan Baseline, TimeSpan OnBroker)> PhaseAsync(ActorSystem system,
        IActorRef manager, int nodes, long start, int minute, string status, Func<bool> saved, Func<bool> onBroker,
        string what, string baselineWhat, string brokerWhat)
    {
        var before = await IngestAsync(system, manager, "quiet-a", nodes, start, Clear, minute);
        Report.Row($"baseline: {baselineWhat}", nodes * 2 / before.TotalSeconds, "lines/s", $"{before.TotalSeconds:0.00} s to commit every line");
        var watch = Stopwatch.StartNew();
        var measured = await IngestAsync(system, manager, "crit", nodes, start, status, minute);
        var savedAfter = await UntilAsync(saved, watch);
        var onBrokerAfter = await UntilAsync(onBroker, watch);
        var after = await IngestAsync(system, manager, "quiet-b", nodes, start, Clear, minute);
        Report.Row($"baseline again: {baselineWhat}, other nodes", nodes * 2 / after.TotalSeconds, "lines/s", $"{after.TotalSeconds:0.00} s");
        var baseline = (before + after) / 2;
        Report.Row(what, nodes * 2 / measured.TotalSeconds, "lines/s",
            $"{measured.TotalSeconds:0.00} s to commit every line ({measured / baseline:0.00}× the baselines' mean); " +
            $"every alert saved after {savedAfter.TotalSeconds:0.00} s, {brokerWhat} after {onBrokerAfter.TotalSeconds:0.00} s");
        return (measured, baseline, onBrokerAfter);
    }

    /// <summary>
    /// Each of <paramref name="nodes"/> nodes (<c>prefix-0000</c> …) pushes two lines (minutes <paramref name="minute"/>
    /// and the next) with the given status, each line a message of its own, all at once, as the MQTT bridge would hand
    /// them on; returns when every line is committed (each node actor answers once its write is).
    /// </summary>
    private static async Task<TimeSpan> IngestAsync(ActorSystem system, IActorRef manager, string prefix, int nodes, long start, string status, int minute)
    {
        var messages = new List<IngestLines>(nodes * 2);
        for (var round = 0; round < 2; round++)
            for (var n = 0; n < nodes; n++)
            {
                var id = $"{prefix}-{n:00000}";
                var line = SimulatedLines.Router(id, start + (minute + round) * 60L);
                var parsed = LineParser.ParsePayload(line[..(line.LastIndexOf(';') + 1)] + status, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                messages.Add(new IngestLines(id, parsed.Lines, RejectionCounts.None, messages.Count + 1));
            }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answers = system.ActorOf(Props.Create(() => new AnswerCountingActor(messages.Count, done)));
        var watch = Stopwatch.StartNew();
        foreach (var message in messages) manager.Tell(message, answers);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        var elapsed = watch.Elapsed;
        system.Stop(answers);
        return elapsed;
    }

    private static async Task<TimeSpan> UntilAsync(Func<bool> condition, Stopwatch since)
    {
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the alerts did not all arrive within 10 minutes");
            await Task.Delay(10);
        }
        return since.Elapsed;
    }

    private sealed class AlertCounter
    {
        private long _count;
        public long Count => Interlocked.Read(ref _count);
        public void Add() => Interlocked.Increment(ref _count);
        public void Reset() => Interlocked.Exchange(ref _count, 0);
    }

    private sealed class AlertCountingActor : ReceiveActor
    {
        public AlertCountingActor(AlertCounter counter) => Receive<AlertRecorded>(_ => counter.Add());
    }

    private sealed class AnswerCountingActor : ReceiveActor
    {
        public AnswerCountingActor(int expected, TaskCompletionSource done)
        {
            var answered = 0;
            Receive<LinesIngested>(_ =>
            {
                if (++answered == expected) done.TrySetResult();
            });
            Receive<LinesNotIngested>(failed => done.TrySetException(new InvalidOperationException($"lines of {failed.NodeKey} not stored: {failed.Reason}")));
        }
    }
}
