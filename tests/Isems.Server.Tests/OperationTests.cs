using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

/// <summary>Health, metrics, and the database going away under load: with real servers and processes.</summary>
public sealed class OperationTests : ServerTestBase
{
    private static async Task<(HttpStatusCode Status, JsonNode Body)> GetAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static JsonNode Check(JsonNode readiness, string name) =>
        readiness["checks"]!.AsArray().Single(c => (string)c!["name"]! == name)!;

    [Fact]
    public async Task Health_and_metrics_say_what_the_collector_did()
    {
        var node = Fleet.AddNode("Metered", historyLines: 5);
        node.BadLineEvery = 3;
        node.Append(3);
        await using var host = new CollectorHost(Settings(node));
        await host.PollNowAsync(node.LogUrl.ToString());
        var client = host.CreateClient();

        var (liveStatus, live) = await GetAsync(client, "/healthz");
        var (readyStatus, ready) = await GetAsync(client, "/readyz");
        var metrics = await client.GetStringAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, liveStatus);
        Assert.Equal("healthy", (string)live["status"]!);
        Assert.Equal(HttpStatusCode.OK, readyStatus);
        Assert.Equal(["akka.actorsystem", "database", "mqtt", "node-registry"],
            ready["checks"]!.AsArray().Select(c => (string)c!["name"]!));
        Assert.Contains("1 nodes registered", (string)Check(ready, "node-registry")["description"]!);
        // A series without labels may be written "name{} value" or "name value": the same sample.
        var lines = metrics.Split('\n').Select(l => l.Replace("{} ", " ", StringComparison.Ordinal)).ToArray();
        Assert.Contains("isems_polls_total{result=\"success\"} 1", lines);
        Assert.Contains($"isems_lines_total{{outcome=\"stored\"}} {node.GoodLineCount}", lines);
        Assert.Contains(lines, l => l.StartsWith("isems_lines_total{outcome=\"rejected\",reason=", StringComparison.Ordinal));
        Assert.Contains("isems_nodes{state=\"up\"} 1", lines);
        Assert.Contains("isems_write_commit_seconds_count 1", lines);
        Assert.Contains("isems_writer_buffered_lines 0", lines);
    }

    [Fact]
    public async Task Readiness_fails_and_says_why_while_the_broker_cannot_be_reached()
    {
        var settings = Settings();
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = Ports.Free().ToString();
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();

        var (status, ready) = await GetAsync(client, "/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unhealthy", (string)Check(ready, "mqtt")["status"]!);
        Assert.Contains("Not connected", (string)Check(ready, "mqtt")["description"]!);
        Assert.Equal("healthy", (string)Check(ready, "database")["status"]!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task A_SQLite_file_locked_by_another_process_for_20_s_loses_no_line_and_stores_none_twice()
    {
        var router = Fleet.AddNode("Locked-Out", historyLines: 200);
        var brokerPort = Ports.Free();
        var settings = Settings(router);
        settings["MQTT_EMBEDDED_BROKER_PORT"] = brokerPort.ToString();
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();
        await Eventually(async () => (await GetAsync(client, "/readyz")).Status == HttpStatusCode.OK, "ready");

        using (var holder = await SqliteLockHolder.LockAsync(Temp.File("isems.db")))
        {
            var poll = host.PollNowAsync(router.LogUrl.ToString());
            var pushed = await PublishAsync(brokerPort, "FF-ESP-Locked", messages: 20);

            await Eventually(async () => (await GetAsync(client, "/readyz")).Status == HttpStatusCode.ServiceUnavailable,
                "readiness reports the database");
            var (_, ready) = await GetAsync(client, "/readyz");
            Assert.Contains("locked", (string)Check(ready, "database")["description"]!);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/measurements/latest")).StatusCode);
            Assert.False(poll.IsCompleted, "the poll waits for its lines to be committed");

            await holder.HoldUntilAsync(TimeSpan.FromSeconds(20));
            holder.Release();
            var outcome = await poll;
            Assert.True(outcome.Succeeded);
            await Eventually(async () => await CountAsync() == 200 + pushed, "every line stored once the lock is gone");
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(200 + 24, await CountAsync());
    }

    [Fact]
    public async Task PostgreSQL_stopped_and_started_during_ingestion_loses_no_line_and_stores_none_twice()
    {
        await using var server = await PostgresServer.StartPrivateAsync();
        var router = Fleet.AddNode("Pg-Outage", historyLines: 100);
        var brokerPort = Ports.Free();
        var settings = Settings(router);
        settings["DATABASE_URL"] = await server.CreateDatabaseAsync();
        settings["MQTT_EMBEDDED_BROKER_PORT"] = brokerPort.ToString();
        await using var host = new CollectorHost(settings);
        var client = host.CreateClient();
        Assert.True((await host.PollNowAsync(router.LogUrl.ToString())).Succeeded);

        await server.StopAsync();
        router.Append(30);
        var poll = host.PollNowAsync(router.LogUrl.ToString());
        var pushed = await PublishAsync(brokerPort, "FF-ESP-Pg", messages: 20);
        await Eventually(async () => (await GetAsync(client, "/readyz")).Status == HttpStatusCode.ServiceUnavailable,
            "readiness reports the database");
        var latest = JsonNode.Parse(await client.GetStringAsync("/measurements/latest"))!["measurements"]!.AsArray();
        Assert.Contains(latest, m => (string)m!["nodeId"]! == "Pg-Outage");
        await server.StartAsync();

        Assert.True((await poll).Succeeded);
        using var store = new MeasurementStore(DatabaseTarget.Parse(settings["DATABASE_URL"], Temp.Path));
        await Eventually(async () => await store.CountAsync() == 130 + pushed, "every line stored once the server is back");
        await Eventually(async () => (await GetAsync(client, "/readyz")).Status == HttpStatusCode.OK, "ready again");
    }

    [Fact]
    public async Task A_damaged_registry_journal_stops_nothing_but_the_admin_api_and_is_reported_to_sentry()
    {
        var router = Fleet.AddNode("Still-Polled", historyLines: 10);
        await File.WriteAllTextAsync(Temp.File("isems.registry.db"), "this is not a SQLite database, it was damaged");
        using var sentry = new HttpCapture();
        var settings = Settings(router);
        settings["POLL_INTERVAL_SECONDS"] = "10";
        settings["ISEMS_ADMIN_TOKEN"] = "token";
        settings["SENTRY_DSN"] = $"http://0123456789abcdef0123456789abcdef@127.0.0.1:{sentry.Port}/42";

        await using var collector = await CollectorProcess.StartAsync(settings, Temp.Path);
        using var client = collector.CreateClient();

        await Eventually(async () => await CountAsync() == router.GoodLineCount, "the configured node polled all the same");
        var (status, ready) = await GetAsync(client, "/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unhealthy", (string)Check(ready, "node-registry")["status"]!);
        client.DefaultRequestHeaders.Authorization = new("Bearer", "token");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/admin/nodes")).StatusCode);
        await Eventually(() => sentry.Requests.Any(r => r.Path == "/api/42/envelope/" && r.Body.Contains("node registry")),
            "the error reported to Sentry");
    }

    [Fact]
    public async Task With_LOG_FORMAT_json_every_log_line_is_a_json_object_and_akka_logs_under_the_actors_class()
    {
        var router = Fleet.AddNode("Json-Logged", historyLines: 3);
        var settings = Settings(router);
        settings["LOG_FORMAT"] = "json";
        await using var collector = await CollectorProcess.StartAsync(settings, Temp.Path);
        using var client = collector.CreateClient();
        await client.GetAsync("/nodes");

        var lines = collector.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var entries = lines.Select(line => JsonNode.Parse(line)!).ToList();

        Assert.NotEmpty(entries);
        Assert.All(entries, e => Assert.NotNull(e["LogLevel"]));
        var recovered = entries.Single(e => ((string)e["Message"]!).StartsWith("Node registry recovered", StringComparison.Ordinal));
        Assert.Equal("Isems.Actors.Registry.NodeRegistryActor", (string)recovered["Category"]!);
        Assert.DoesNotContain("[INFO]", (string)recovered["Message"]!);
    }

    private async Task<long> CountAsync()
    {
        using var store = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, Temp.Path));
        return await store.CountAsync();
    }

    /// <summary>
    /// Publishes overlapping 5-line payloads, one line further each message, as an ESP board does every 65 s; returns
    /// the number of distinct lines (messages + 4).
    /// </summary>
    private static async Task<int> PublishAsync(int port, string nodeId, int messages)
    {
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).Build());
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;
        for (var m = 0; m < messages; m++)
        {
            var payload = string.Join("\n", Enumerable.Range(m, 5).Select(i => SimulatedLines.Esp(nodeId, start + i * 15)));
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"/isems/{nodeId}/csvlog")
                .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }
        await publisher.DisconnectAsync();
        return messages + 4;
    }

    /// <summary>Another process (the sqlite3 shell) holding an exclusive lock on the database, as a backup tool might.</summary>
    private sealed class SqliteLockHolder : IDisposable
    {
        private readonly Process _process;
        private readonly Stopwatch _held = Stopwatch.StartNew();

        private SqliteLockHolder(Process process) => _process = process;

        public static async Task<SqliteLockHolder> LockAsync(string path)
        {
            var start = new ProcessStartInfo("sqlite3", [path])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            var process = Process.Start(start) ?? throw new InvalidOperationException("sqlite3 did not start");
            await process.StandardInput.WriteLineAsync("BEGIN EXCLUSIVE; SELECT 'locked';");
            await process.StandardInput.FlushAsync();
            Assert.Equal("locked", await process.StandardOutput.ReadLineAsync());
            return new SqliteLockHolder(process);
        }

        public Task HoldUntilAsync(TimeSpan total) =>
            _held.Elapsed < total ? Task.Delay(total - _held.Elapsed) : Task.CompletedTask;

        public void Release()
        {
            if (_process.HasExited) return;
            _process.StandardInput.WriteLine("COMMIT;");
            _process.StandardInput.WriteLine(".quit");
            _process.StandardInput.Flush();
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Release();
            _process.Dispose();
        }
    }
}
