using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

/// <summary>The collector against a real Mosquitto that wants a password, and one that speaks TLS with a certificate of its own CA.</summary>
public sealed class MqttSecurityTests : ServerTestBase
{
    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {errors.Result}");
    }

    private static async Task<JsonNode> MqttStatusAsync(HttpClient client) => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!;

    private static async Task PublishAsync(int port, string? username, string? password, string node)
    {
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("publisher");
        if (username is not null) options.WithCredentials(username, password);
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(options.Build());
        var line = SimulatedLines.Esp(node, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60);
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"/isems/{node}/csvlog")
            .WithPayload(Encoding.UTF8.GetBytes(line)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await publisher.DisconnectAsync();
    }

    private static Task<JsonNode> LatestOfAsync(HttpClient client, string node) =>
        client.GetStringAsync($"/measurements/{node}/latest").ContinueWith(t => JsonNode.Parse(t.Result)!);

    [Fact]
    public async Task A_wrong_password_shows_at_GET_mqtt_without_harm_and_the_right_one_gets_the_lines()
    {
        var passwords = Temp.File("passwords");
        Run("mosquitto_passwd", "-c", "-b", passwords, "collector", "s3cret;!");
        await using var broker = await MosquittoBroker.StartNewAsync($"""
            allow_anonymous false
            password_file {passwords}
            """);
        var settings = Settings();
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = broker.Port.ToString();
        settings["MQTT_USERNAME"] = "collector";

        settings["MQTT_PASSWORD"] = "wrong";
        await using (var refused = new CollectorHost(settings))
        {
            var client = refused.CreateClient();
            await Eventually(async () => (await MqttStatusAsync(client))["lastError"] is not null);
            var status = await MqttStatusAsync(client);
            Assert.False((bool)status["connected"]!);
            Assert.Contains("NotAuthorized", (string)status["lastError"]!);
            // Still serving: the refused link is a state, not a crash.
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/measurements/latest")).StatusCode);
        }

        settings["MQTT_PASSWORD"] = "s3cret;!";
        await using var accepted = new CollectorHost(settings);
        var http = accepted.CreateClient();
        await Eventually(async () => (bool)(await MqttStatusAsync(http))["connected"]!);
        await PublishAsync(broker.Port, "collector", "s3cret;!", "esp-pw");
        await Eventually(async () => (await LatestOfAsync(http, "esp-pw"))["measurements"]!.AsArray().Count == 1);
    }

    [Fact]
    public async Task A_tls_broker_is_trusted_through_MQTT_TLS_CA_FILE_and_refused_without_it()
    {
        // A CA of the test's own, and a certificate it signed for 127.0.0.1.
        var (caKey, ca, key, request, certificate, extensions) =
            (Temp.File("ca.key"), Temp.File("ca.crt"), Temp.File("server.key"), Temp.File("server.csr"), Temp.File("server.crt"), Temp.File("san.ext"));
        await File.WriteAllTextAsync(extensions, "subjectAltName=IP:127.0.0.1\n");
        Run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=isems-test-ca");
        Run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1");
        Run("openssl", "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", certificate, "-days", "2", "-extfile", extensions);
        var tlsPort = Ports.Free();
        // The plain listener is the nodes'; the collector takes the TLS one.
        await using var broker = await MosquittoBroker.StartNewAsync($"""
            listener {tlsPort} 127.0.0.1
            certfile {certificate}
            keyfile {key}
            """);
        var settings = Settings();
        settings["MQTT_SERVER"] = "127.0.0.1";
        settings["MQTT_PORT"] = tlsPort.ToString();
        settings["MQTT_TLS"] = "true";

        await using (var untrusting = new CollectorHost(settings))
        {
            var client = untrusting.CreateClient();
            await Eventually(async () => (await MqttStatusAsync(client))["lastError"] is not null);
            var status = await MqttStatusAsync(client);
            Assert.False((bool)status["connected"]!);
            Assert.Contains("certificate", (string)status["lastError"]!, StringComparison.OrdinalIgnoreCase);
        }

        settings["MQTT_TLS_CA_FILE"] = ca;
        await using var trusting = new CollectorHost(settings);
        var http = trusting.CreateClient();
        await Eventually(async () => (bool)(await MqttStatusAsync(http))["connected"]!);
        await PublishAsync(broker.Port, null, null, "esp-tls");
        await Eventually(async () => (await LatestOfAsync(http, "esp-tls"))["measurements"]!.AsArray().Count == 1);
    }
}
