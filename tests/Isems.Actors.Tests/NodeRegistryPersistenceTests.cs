using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Isems.Actors.Nodes;
using Isems.Actors.Registry;
using LinqToDB;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// The registry on a real Akka.Persistence.Sql journal and snapshot store, in a SQLite file. One file for the test
/// process and a stream (persistence id) per test: with a file per test, configured through HOCON, a later test's
/// events once went to an earlier test's file, as if the plugin kept its connection settings per process.
/// </summary>
public sealed class NodeRegistryPersistenceTests : TestKit
{
    private static readonly string Journal = Path.Combine(Path.GetTempPath(), $"isems-registry-test-{Environment.ProcessId}.db");
    private readonly string _stream = $"node-registry-{Guid.NewGuid():N}";

    static NodeRegistryPersistenceTests() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        SqliteConnection.ClearAllPools();
        File.Delete(Journal);
    };

    public NodeRegistryPersistenceTests(ITestOutputHelper output) : base(JournalConfig(), output: output)
    {
    }

    private static Config JournalConfig()
    {
        var connection = new SqliteConnectionStringBuilder { DataSource = Journal }.ConnectionString;
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql { connection-string = "{{connection}}", provider-name = "{{ProviderName.SQLiteMS}}", auto-initialize = on }
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql { connection-string = "{{connection}}", provider-name = "{{ProviderName.SQLiteMS}}", auto-initialize = on }
            akka.actor.serializers.node-registry = "Isems.Actors.Registry.RegistrySerializer, Isems.Actors"
            akka.actor.serialization-bindings {
              "Isems.Actors.Registry.IRegistryEvent, Isems.Actors" = node-registry
              "Isems.Actors.Registry.RegistrySnapshot, Isems.Actors" = node-registry
            }
            akka.actor.serialization-identifiers { "Isems.Actors.Registry.RegistrySerializer, Isems.Actors" = 7301 }
            """).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    private IActorRef StartRegistry(IActorRef nodes) => Sys.ActorOf(NodeRegistryActor.Props(nodes, _stream));

    /// <summary>
    /// The registry as the collector starts it: <paramref name="configured"/> (ISEMS_ROUTER_IPS) merged in once it has
    /// recovered, with the ids a loader says the saved bookmarks name (<paramref name="logged"/>). Its entries once merged.
    /// </summary>
    private IReadOnlyList<RegisteredNode> StartMerging(out IActorRef registry, IActorRef nodes, IReadOnlyList<Uri> configured,
        bool persist = true, IReadOnlyDictionary<string, string>? logged = null)
    {
        var startup = new CollectorStartup();
        IActorRef? loader = null;
        if (logged is not null)
        {
            var probe = CreateTestProbe();
            probe.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
            {
                if (message is GetLoggedIds) sender.Tell(new LoggedIds(logged));
                return AutoPilot.KeepRunning;
            }));
            loader = probe.Ref;
        }
        registry = Sys.ActorOf(NodeRegistryActor.Props(nodes, _stream, configured, persist, loader, startup));
        Assert.True(startup.Merged.Wait(TimeSpan.FromSeconds(30)), "the configured nodes were not merged within 30 s");
        registry.Tell(new GetRegisteredNodes());
        return ExpectMsg<RegistryEntries>(TimeSpan.FromSeconds(30)).Nodes;
    }

    private void Stop(IActorRef registry)
    {
        Watch(registry);
        registry.Tell(PoisonPill.Instance);
        ExpectTerminated(registry, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_large_registry_comes_back_whole_from_its_snapshot_and_the_events_after_it()
    {
        var nodes = CreateTestProbe();
        var registry = StartRegistry(nodes.Ref);
        const int count = NodeRegistryActor.SnapshotEvery * 2 + 30;
        for (var i = 0; i < count; i++)
            registry.Tell(new AddNode($"Node-{i:0000}", new Uri($"http://10.1.{i / 200}.{i % 200}/ISEMS/ffopenmppt.log"),
                IntervalSeconds: i % 2 == 0 ? 60 : null, TimeoutSeconds: null, Enabled: true, Note: $"note {i}"));
        ReceiveN(count, TimeSpan.FromSeconds(60)).ToList().ForEach(reply => Assert.IsType<RegistryEntry>(reply));
        registry.Tell(new ChangeNode("Node-0007", new NodeChanges(Enabled: false, Note: new Change<string?>(null))));
        ExpectMsg<RegistryEntry>();
        registry.Tell(new RemoveNode("Node-0008", Purge: false));
        nodes.FishForMessage(m => m is RetireNode { NodeKey: "Node-0008" }, TimeSpan.FromSeconds(10));
        AwaitCondition(() => SnapshotsSaved() > 0, TimeSpan.FromSeconds(10));
        Stop(registry);

        var recoveredNodes = CreateTestProbe();
        var recovered = StartRegistry(recoveredNodes.Ref);
        recovered.Tell(new GetRegisteredNodes());
        var entries = ExpectMsg<RegistryEntries>(TimeSpan.FromSeconds(30)).Nodes;

        Assert.Equal(count - 1, entries.Count);
        Assert.DoesNotContain(entries, n => n.Id == "Node-0008");
        var changed = entries.Single(n => n.Id == "Node-0007");
        Assert.False(changed.Enabled);
        Assert.Null(changed.Note);
        var other = entries.Single(n => n.Id == "Node-0010");
        Assert.Equal(60, other.IntervalSeconds);
        Assert.Equal("note 10", other.Note);
        Assert.Equal(new Uri("http://10.1.0.10/ISEMS/ffopenmppt.log"), other.Url);
        // Recovery tells every node actor what to do: poll on schedule, or (the disabled one) not.
        var told = recoveredNodes.ReceiveN(count - 1, TimeSpan.FromSeconds(10));
        Assert.Single(told.OfType<StopPolling>(), s => s.NodeKey == "Node-0007");
        Assert.Equal(count - 2, told.OfType<StartPolling>().Count(s => !s.PollAtOnce));
        Assert.True(SnapshotsSaved() > 0, "a snapshot was saved, so recovery did not replay every event");
        Assert.Equal(count + 2, Convert.ToInt64(Scalar($"SELECT MAX(sequence_number) FROM journal WHERE persistence_id = '{_stream}'")));
    }

    [Fact]
    public void A_configured_node_whose_stored_bookmark_names_its_id_is_keyed_and_polled_by_that_id_also_after_a_restart()
    {
        var identified = new Uri("http://10.4.0.1/ISEMS/ffopenmppt.log");
        var unknown = new Uri("http://10.4.0.2/ISEMS/ffopenmppt.log");
        var sameId = new Uri("http://10.4.0.3/ISEMS/ffopenmppt.log"); // a second address whose lines carry the same id
        var logged = new Dictionary<string, string> { [identified.AbsoluteUri] = "node-a", [sameId.AbsoluteUri] = "node-a" };
        var nodes = CreateTestProbe();
        var merged = StartMerging(out var registry, nodes.Ref, [identified, unknown, sameId], logged: logged);
        var polled = new[] { nodes.ExpectMsg<StartPolling>(), nodes.ExpectMsg<StartPolling>(), nodes.ExpectMsg<StartPolling>() };
        Stop(registry);
        var again = StartRegistry(CreateTestProbe().Ref);
        again.Tell(new GetRegisteredNodes());
        var recovered = ExpectMsg<RegistryEntries>().Nodes;

        foreach (var entries in new[] { merged, recovered })
        {
            Assert.Equal("node-a", entries.Single(n => n.Url == identified).Key);
            Assert.Equal(unknown.ToString(), entries.Single(n => n.Url == unknown).Key);
            Assert.Equal(sameId.ToString(), entries.Single(n => n.Url == sameId).Key);
        }
        Assert.Equal([unknown.ToString(), sameId.ToString(), "node-a"], polled.Select(p => p.NodeKey).Order(StringComparer.Ordinal));
        Assert.Equal(identified, polled.Single(p => p.NodeKey == "node-a").LogUrl);
    }

    [Fact]
    public void A_merge_without_persist_is_forgotten_by_the_next_start()
    {
        Assert.Single(StartMerging(out var registry, CreateTestProbe().Ref, [new Uri("http://10.2.0.1/ISEMS/ffopenmppt.log")], persist: false));
        Stop(registry);

        var again = StartRegistry(CreateTestProbe().Ref);
        again.Tell(new GetRegisteredNodes());
        Assert.Empty(ExpectMsg<RegistryEntries>().Nodes);
    }

    [Fact]
    public void A_merge_of_a_large_configuration_is_one_event_and_comes_back_whole()
    {
        var urls = Enumerable.Range(0, 1000).Select(i => new Uri($"http://10.3.{i / 250}.{i % 250}/ISEMS/ffopenmppt.log")).ToList();
        Assert.Equal(1000, StartMerging(out var registry, CreateTestProbe().Ref, urls).Count);
        // A large merge is followed by a snapshot; it is let finish, so the next registry's recovery does not race it.
        AwaitCondition(() => Count("snapshot") == 1, TimeSpan.FromSeconds(10));
        Stop(registry);
        Assert.Equal(1, Count("journal"));
        Assert.Equal("ConfigurationMerged", Scalar($"SELECT manifest FROM journal WHERE persistence_id = '{_stream}'")); // its own serializer

        // Half of them leave the configuration: one more event, and the other half stays.
        var kept = StartMerging(out var again, CreateTestProbe().Ref, urls.Take(500).ToList());
        AwaitCondition(() => Convert.ToInt64(Scalar($"SELECT MAX(sequence_number) FROM snapshot WHERE persistence_id = '{_stream}'")) == 2,
            TimeSpan.FromSeconds(10));
        Stop(again);
        var third = StartRegistry(CreateTestProbe().Ref);
        third.Tell(new GetRegisteredNodes());

        Assert.Equal(urls.Take(500).OrderBy(u => u.ToString(), StringComparer.Ordinal), kept.Select(n => n.Url).OrderBy(u => u.ToString(), StringComparer.Ordinal));
        Assert.Equal(kept, ExpectMsg<RegistryEntries>(TimeSpan.FromSeconds(30)).Nodes);
        Assert.Equal(2, Count("journal"));
    }

    [Fact]
    public void Muted_alerts_come_back_after_a_restart_and_are_told_to_the_node_and_events_written_before_mutes_read_as_none()
    {
        var registry = StartRegistry(CreateTestProbe().Ref);
        registry.Tell(new AddNode("Elektra-Dach", new Uri("http://10.4.0.1/ISEMS/ffopenmppt.log"), null, null, true, null));
        ExpectMsg<RegistryEntry>();
        registry.Tell(new ChangeNode("Elektra-Dach", new NodeChanges(MutedAlerts: ["BatteryLow", "NodeSilent"])));
        Assert.Equal(["BatteryLow", "NodeSilent"], ExpectMsg<RegistryEntry>().Node.Muted);
        Stop(registry);

        var nodes = CreateTestProbe();
        StartRegistry(nodes.Ref);
        nodes.ExpectMsg<StartPolling>();
        var muted = nodes.ExpectMsg<Isems.Actors.Alerts.MuteAlerts>();
        Assert.Equal("Elektra-Dach", muted.NodeKey);
        Assert.Equal(["BatteryLow", "NodeSilent"], muted.AlertNames);

        // A NodeAdded as journals held it before mutes existed (no MutedAlerts field): a node with none muted.
        var serializer = new RegistrySerializer((ExtendedActorSystem)Sys);
        const string before = """{"Node":{"Id":"Old","Url":"http://10.4.0.2/ISEMS/ffopenmppt.log","IntervalSeconds":null,"TimeoutSeconds":null,"Enabled":true,"Note":null,"Source":0,"ChangedByOperator":true,"AddedAt":"2026-11-01T00:00:00+00:00","ChangedAt":"2026-11-01T00:00:00+00:00","PollingKey":"Old"}}""";
        var old = (NodeAdded)serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(before), "NodeAdded");
        Assert.Equal(("Old", "Old"), (old.Node.Id, old.Node.Key));
        Assert.Empty(old.Node.Muted);
        // And a node without mutes is written as before: no new field in every event of a large merge.
        Assert.Equal(before, System.Text.Encoding.UTF8.GetString(serializer.ToBinary(old)));
    }

    private long SnapshotsSaved() => Count("snapshot");

    private static object Scalar(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Journal }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar()!;
    }

    private long Count(string table) => (long)Scalar($"SELECT COUNT(*) FROM {table} WHERE persistence_id = '{_stream}'");


}
