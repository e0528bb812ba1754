using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Isems.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Isems.Server.Tests;

/// <summary>What operators' tools see: a real Prometheus and promtool, an OTLP receiver, the Redocly linter.</summary>
public sealed class ObservabilityTests : ServerTestBase
{
    private const string Token = "observability-token";

    private Dictionary<string, string> AdminSettings()
    {
        var settings = Settings();
        settings["ISEMS_ADMIN_TOKEN"] = Token;
        return settings;
    }

    private static async Task AddNodeAsync(CollectorProcess collector, string id, Uri logUrl)
    {
        using var admin = collector.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var added = await admin.PostAsync("/admin/nodes",
            new StringContent($$"""{"id":"{{id}}","url":"{{logUrl}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_collectors_series_and_promtool_accepts_a_scrape()
    {
        var node = Fleet.AddNode("Scraped", historyLines: 4);
        await using var collector = await CollectorProcess.StartAsync(AdminSettings(), Temp.Path);
        await AddNodeAsync(collector, "Scraped", node.LogUrl);
        using var client = collector.CreateClient();
        await Eventually(async () => await HistoryCount(client, "Scraped") == 4, "the node's lines stored");

        var scrape = await client.GetStringAsync("/metrics");
        var (promtoolExit, promtoolOutput) = await RunAsync("promtool", ["check", "metrics"], scrape);

        var port = Ports.Free();
        File.WriteAllText(Temp.File("prometheus.yml"), $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: isems
                static_configs:
                  - targets: ["{collector.BaseAddress.Authority}"]
            """);
        using var prometheus = Process.Start(new ProcessStartInfo("prometheus",
            [$"--config.file={Temp.File("prometheus.yml")}", $"--storage.tsdb.path={Temp.File("tsdb")}",
             $"--web.listen-address=127.0.0.1:{port}"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        prometheus.ErrorDataReceived += (_, _) => { };
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var query = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            async Task<JsonArray?> Query(string promql)
            {
                try
                {
                    var answer = JsonNode.Parse(await query.GetStringAsync($"/api/v1/query?query={Uri.EscapeDataString(promql)}"));
                    return answer!["data"]!["result"]!.AsArray() is { Count: > 0 } result ? result : null;
                }
                catch (HttpRequestException)
                {
                    return null; // not listening yet
                }
            }

            JsonArray? stored = null, up = null, nodes = null;
            await Eventually(async () =>
            {
                stored = await Query("isems_lines_total{outcome=\"stored\"}");
                up = await Query("up{job=\"isems\"}");
                nodes = await Query("isems_nodes{state=\"up\"}");
                return stored is not null && up is not null && nodes is not null;
            }, "Prometheus holding the collector's series", TimeSpan.FromSeconds(30));

            Assert.Equal("1", (string)up![0]!["value"]![1]!);
            Assert.Equal("4", (string)stored![0]!["value"]![1]!);
            Assert.Equal("1", (string)nodes![0]!["value"]![1]!);
            Assert.NotNull(await Query("isems_write_commit_seconds_count"));
            Assert.NotNull(await Query("http_server_request_duration_seconds_count"));
            Assert.NotNull(await Query("dotnet_gc_collections_total"));
        }
        finally
        {
            prometheus.Kill();
            await prometheus.WaitForExitAsync();
        }
        Assert.True(promtoolExit == 0 && promtoolOutput.Trim().Length == 0, $"promtool check metrics: {promtoolExit}\n{promtoolOutput}");
        Assert.Contains("isems_polls_total{result=\"success\"} 1", scrape);
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_a_poll_is_one_trace_with_its_fetch_parse_write_and_commit_an_MQTT_message_a_span_and_metrics_go_too()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var node = Fleet.AddNode("Traced", historyLines: 6);
        var settings = AdminSettings();
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint;
        settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        settings["OTEL_BSP_SCHEDULE_DELAY"] = "200";
        settings["OTEL_METRIC_EXPORT_INTERVAL"] = "500";
        var brokerPort = Ports.Free();
        settings["MQTT_EMBEDDED_BROKER_PORT"] = brokerPort.ToString();
        await using var collector = await CollectorProcess.StartAsync(settings, Temp.Path);
        await AddNodeAsync(collector, "Traced", node.LogUrl);
        using (var client = collector.CreateClient())
            await Eventually(async () => JsonNode.Parse(await client.GetStringAsync("/mqtt"))!["connected"]!.GetValue<bool>(), "the MQTT link");
        using var publisher = new MQTTnet.MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(new MQTTnet.MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", brokerPort).Build());
        var line = Isems.Simulator.SimulatedLines.Esp("Traced-Esp", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60);
        await publisher.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic("/isems/Traced-Esp/csvlog")
            .WithPayload(Encoding.UTF8.GetBytes(line)).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

        List<Span> spans = [];
        Span? poll = null;
        await Eventually(() =>
        {
            spans = receiver.Spans();
            poll = spans.FirstOrDefault(s => s.Name == "poll" && s.Attributes.Contains("Traced"));
            return poll is not null && spans.Any(s => s.Name == "commit" && s.TraceId == poll.TraceId)
                   && spans.Any(s => s.Name.StartsWith("POST", StringComparison.Ordinal))
                   && spans.Any(s => s.Name == "mqtt message");
        }, "the poll's trace at the receiver", TimeSpan.FromSeconds(30));

        var trace = spans.Where(s => s.TraceId == poll!.TraceId).ToList();
        var children = trace.Where(s => s.ParentId == poll!.SpanId).Select(s => s.Name).Order().ToList();
        var write = trace.Single(s => s.Name == "write");
        Assert.Equal(["fetch", "parse", "write"], children);
        Assert.Equal(write.SpanId, trace.Single(s => s.Name == "commit").ParentId);
        Assert.Empty(poll!.ParentId);
        // The API request that added the node: a span of its own, named by its route.
        Assert.True(spans.Any(s => s.Name is "POST admin/nodes" or "POST /admin/nodes"), string.Join(", ", spans.Select(s => s.Name).Distinct()));
        // The pushed message: a span of its own, from its arrival to its acknowledgement after the commit.
        Assert.Contains("/isems/Traced-Esp/csvlog", spans.Single(s => s.Name == "mqtt message").Attributes);
        await Eventually(() => receiver.MetricsContain("isems_polls"), "the collector's metrics over OTLP", TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task The_served_openapi_document_passes_redoclys_recommended_rules_with_no_error()
    {
        await using var host = new CollectorHost(Settings());
        var document = await host.CreateClient().GetStringAsync("/openapi/v1.json");
        var docs = await host.CreateClient().GetStringAsync("/docs/");
        File.WriteAllText(Temp.File("openapi.json"), document);

        var redocly = await Redocly.PathAsync();
        var (exit, output) = await RunAsync(redocly, ["lint", "--extends", "recommended", "--format", "stylish", Temp.File("openapi.json")], null);

        Assert.True(exit == 0, $"redocly lint found errors:\n{output}");
        Assert.DoesNotContain(" error ", output);
        // The reference page, for operators: none of the vendor's toolbar (deploy, SDKs), AI chat or MCP offers.
        Assert.Contains("<title>ISEMS collector API: operator reference</title>", docs);
        Assert.Contains("\"showDeveloperTools\":\"never\"", docs);
        Assert.Contains("\"agent\":{\"disabled\":true}", docs);
        Assert.Contains("\"mcp\":{\"disabled\":true}", docs);
        Assert.Contains("\"telemetry\":false", docs);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] arguments, string? input)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = input is not null, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    private sealed record Span(string TraceId, string SpanId, string ParentId, string Name, string Attributes);

    /// <summary>An OTLP/HTTP receiver (protobuf), keeping the spans and the metrics requests it is sent.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<Span> _spans = new();
        private readonly ConcurrentQueue<byte[]> _metrics = new();

        private OtlpReceiver(WebApplication app, string endpoint)
        {
            _app = app;
            Endpoint = endpoint;
        }

        public string Endpoint { get; }

        public static async Task<OtlpReceiver> StartAsync()
        {
            var endpoint = $"http://127.0.0.1:{Ports.Free()}";
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls(endpoint);
            var app = builder.Build();
            var receiver = new OtlpReceiver(app, endpoint);
            app.MapPost("/v1/traces", async (HttpRequest request) =>
            {
                foreach (var span in ReadSpans(await ReadAsync(request))) receiver._spans.Enqueue(span);
                return Results.Bytes([], "application/x-protobuf");
            });
            app.MapPost("/v1/metrics", async (HttpRequest request) =>
            {
                receiver._metrics.Enqueue(await ReadAsync(request));
                return Results.Bytes([], "application/x-protobuf");
            });
            await app.StartAsync();
            return receiver;
        }

        public List<Span> Spans() => [.. _spans];

        public bool MetricsContain(string text) => _metrics.Any(body => Encoding.UTF8.GetString(body).Contains(text, StringComparison.Ordinal));

        private static async Task<byte[]> ReadAsync(HttpRequest request)
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            return body.ToArray();
        }

        /// <summary>ExportTraceServiceRequest → resource_spans (1) → scope_spans (2) → spans (2), read field by field.</summary>
        private static IEnumerable<Span> ReadSpans(byte[] request)
        {
            foreach (var resourceSpans in Fields(request, 1))
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            foreach (var span in Fields(scopeSpans, 2))
            {
                string traceId = "", spanId = "", parentId = "", name = "";
                var attributes = new StringBuilder();
                var input = new CodedInputStream(span);
                uint tag;
                while ((tag = input.ReadTag()) != 0)
                {
                    switch (WireFormat.GetTagFieldNumber(tag))
                    {
                        case 1: traceId = Convert.ToHexString(input.ReadBytes().ToByteArray()); break;
                        case 2: spanId = Convert.ToHexString(input.ReadBytes().ToByteArray()); break;
                        case 4: parentId = Convert.ToHexString(input.ReadBytes().ToByteArray()); break;
                        case 5: name = input.ReadString(); break;
                        case 9: attributes.Append(Encoding.UTF8.GetString(input.ReadBytes().ToByteArray())); break;
                        default: input.SkipLastField(); break;
                    }
                }
                yield return new Span(traceId, spanId, parentId, name, attributes.ToString());
            }
        }

        private static IEnumerable<byte[]> Fields(byte[] message, int field)
        {
            var input = new CodedInputStream(message);
            var found = new List<byte[]>();
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                    found.Add(input.ReadBytes().ToByteArray());
                else input.SkipLastField();
            }
            return found;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
