using System.Diagnostics;
using System.Text;
using Isems.Simulator;
using Isems.Testing;
using Microsoft.Data.Sqlite;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

/// <summary>The collector as a process, killed and stopped while it works hard.</summary>
public sealed class CrashTests : ServerTestBase
{
    private const int Routers = 20, RouterLines = 3660, EspNodes = 10, MessagesPerEsp = 300;

    private Dictionary<string, string> HeavySettings(MosquittoBroker broker, IEnumerable<SimulatedNode> routers)
    {
        var settings = Settings(routers.ToArray());
        settings["POLL_INTERVAL_SECONDS"] = "10";
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = broker.Port.ToString();
        settings["MQTT_CLIENT_ID"] = "collector-crash-test";
        return settings;
    }

    [Fact]
    public async Task Killed_during_heavy_polling_and_mqtt_ingestion_it_loses_no_committed_row_and_resumes_both()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var routers = Enumerable.Range(1, Routers).Select(i => Fleet.AddNode($"Crash-Router-{i:00}", historyLines: RouterLines)).ToList();
        var settings = HeavySettings(broker, routers);
        var publisher = new EspPublisher(broker.Port);

        HashSet<(string, long)> committedAtKill;
        await using (var first = await CollectorProcess.StartAsync(settings, Temp.Path))
        {
            var publishing = publisher.PublishAsync(EspNodes, MessagesPerEsp);
            // Kill while both paths are busy: polls of full logs under way, MQTT messages arriving.
            await Eventually(() => publisher.Published >= EspNodes * MessagesPerEsp / 3 && Rows().Count > RouterLines,
                "heavy ingestion under way", TimeSpan.FromSeconds(60));
            first.Kill();
            committedAtKill = Rows();
            await publishing; // the rest waits at the broker, in the collector's session
        }
        Assert.Equal("ok", IntegrityCheck());
        Assert.NotEmpty(committedAtKill);

        var requestsAtRestart = routers.Sum(r => r.Requests);
        await using var second = await CollectorProcess.StartAsync(settings, Temp.Path);
        var expected = Routers * RouterLines + EspNodes * (MessagesPerEsp + 4);
        await Eventually(() => Rows().Count == expected, "every line stored after the restart", TimeSpan.FromSeconds(90));

        var final = Rows();
        Assert.Empty(committedAtKill.Except(final));
        Assert.Equal(expected, final.Count);
        Assert.Equal(EspNodes * (MessagesPerEsp + 4), final.Count(r => r.Item1.StartsWith("Crash-ESP-", StringComparison.Ordinal)));
        Assert.True(routers.Sum(r => r.Requests) > requestsAtRestart, "polling resumed");
    }

    [Fact]
    public async Task A_graceful_stop_commits_what_it_received_and_exits_cleanly()
    {
        await using var broker = await MosquittoBroker.StartNewAsync();
        var routers = Enumerable.Range(1, 5).Select(i => Fleet.AddNode($"Stop-Router-{i}", historyLines: RouterLines)).ToList();
        var settings = HeavySettings(broker, routers);
        var publisher = new EspPublisher(broker.Port);

        await using var collector = await CollectorProcess.StartAsync(settings, Temp.Path);
        await publisher.PublishAsync(EspNodes, 50);
        await Eventually(() => Rows().Count > 0, "ingestion under way", TimeSpan.FromSeconds(30));
        var exitCode = await collector.TerminateAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, exitCode);
        Assert.Contains("Writer flushed", collector.Output);
        Assert.Equal("ok", IntegrityCheck());
    }

    private HashSet<(string, long)> Rows()
    {
        using var connection = new SqliteConnection($"Data Source={Temp.File("isems.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT node_id, timestamp FROM measurements";
        using var reader = command.ExecuteReader();
        var rows = new HashSet<(string, long)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1)));
        return rows;
    }

    private string IntegrityCheck()
    {
        using var connection = new SqliteConnection($"Data Source={Temp.File("isems.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        return (string)command.ExecuteScalar()!;
    }

    /// <summary>ESP boards publishing overlapping 5-line payloads with QoS 1, as fast as the broker takes them.</summary>
    private sealed class EspPublisher(int port)
    {
        private int _published;

        public int Published => Volatile.Read(ref _published);

        public async Task PublishAsync(int nodes, int messagesPerNode)
        {
            using var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("esp-fleet").Build());
            var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 86_000;
            for (var m = 0; m < messagesPerNode; m++)
                for (var n = 1; n <= nodes; n++)
                {
                    var id = $"Crash-ESP-{n:00}";
                    var payload = string.Join("\n", Enumerable.Range(m, 5).Select(i => SimulatedLines.Esp(id, start + i * 15)));
                    await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"/isems/{id}/csvlog")
                        .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    Interlocked.Increment(ref _published);
                }
            await client.DisconnectAsync();
        }
    }
}
