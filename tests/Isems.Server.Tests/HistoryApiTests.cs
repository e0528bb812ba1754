using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Isems.LineFormat;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>SPEC §6 from the outside: history, exports, ETag and compression, against the real host over HTTP.</summary>
public sealed class HistoryApiTests : ServerTestBase
{
    /// <summary>2026-11-30T00:00:00Z: a whole day, so that hours and days are aligned to it.</summary>
    private const long Day0 = 1_764_460_800;

    private static string Iso(long t) => DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A router line every <paramref name="step"/> seconds from <paramref name="start"/>, written before the host starts.</summary>
    private static async Task<List<Measurement>> SeedAsync(string url, string root, string node, long start, int count, int step = 60)
    {
        var lines = new List<Measurement>(count);
        for (var i = 0; i < count; i++)
        {
            var text = SimulatedLines.Router(node, start + i * step, seed: i % 7);
            Assert.True(LineParser.TryParse(text, start + i * step, out var m, out _));
            lines.Add(m!);
        }
        using var store = new MeasurementStore(DatabaseTarget.Parse(url, root));
        store.Migrate();
        foreach (var chunk in lines.Chunk(20_000)) await store.WriteAsync([chunk]);
        return lines;
    }

    private static void AssertPointsMatch(IReadOnlyList<Measurement> lines, long from, long to, long bucket, JsonArray points)
    {
        var expected = lines.Where(m => m.Timestamp >= from && m.Timestamp < to)
            .GroupBy(m => m.Timestamp - m.Timestamp % bucket).OrderBy(g => g.Key).ToList();
        Assert.Equal(expected.Count, points.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var p = points[i]!;
            var g = expected[i];
            Assert.Equal(Iso(g.Key), (string)p["time"]!);
            Assert.Equal(g.Count(), (int)p["count"]!);
            Assert.Equal(StatusBitNames.ToApiText(g.Aggregate(0, (s, m) => s | (m.Status ?? 0))), (string)p["status"]!);
            Assert.Equal(g.Average(m => m.BatteryVoltage), (double)p["batteryVoltage"]!["avg"]!, 9);
            Assert.Equal(g.Min(m => m.BatteryVoltage), (double)p["batteryVoltage"]!["min"]!);
            Assert.Equal(g.Max(m => m.BatteryVoltage), (double)p["batteryVoltage"]!["max"]!);
            Assert.Equal(g.Max(m => m.TemperatureCorrectedVoltage), (double)p["temperatureCorrectedVoltage"]!["max"]!);
            Assert.Equal(g.Average(m => m.BatteryChargeEstimate), (double)p["batteryChargeEstimate"]!["avg"]!, 9);
        }
    }

    [Fact]
    public async Task Sqlite_history_raw_and_bucketed_equals_what_the_raw_rows_say()
    {
        var lines = await SeedAsync(DatabaseUrl, Temp.Path, "Elektra-Dach", Day0 - 7_200 + 30, 3 * 1440);
        await using var host = new CollectorHost(Settings());
        await AssertHistoryAsync(host.CreateClient(), lines);
    }

    [Fact]
    public async Task Postgresql_history_raw_and_bucketed_equals_what_the_raw_rows_say()
    {
        var server = await PostgresServer.SharedAsync();
        var settings = Settings();
        settings["DATABASE_URL"] = await server.CreateDatabaseAsync();
        var lines = await SeedAsync(settings["DATABASE_URL"], Temp.Path, "Elektra-Dach", Day0 - 7_200 + 30, 3 * 1440);
        await using var host = new CollectorHost(settings);
        await AssertHistoryAsync(host.CreateClient(), lines);
    }

    private static async Task AssertHistoryAsync(HttpClient client, List<Measurement> lines)
    {
        // Raw: oldest first, each object as /latest has it; from inclusive, to exclusive.
        var at = lines.Count - 200; // within the newest 1440, to compare with /latest
        var from = lines[at].Timestamp;
        var to = lines[at + 60].Timestamp;
        var raw = JsonNode.Parse(await client.GetStringAsync($"/measurements/Elektra-Dach/history?from={Iso(from)}&to={to}"))!;
        Assert.Equal(["nodeId", "from", "to", "bucket", "measurements"], raw.AsObject().Select(kv => kv.Key));
        Assert.Equal("raw", (string)raw["bucket"]!);
        Assert.Equal(Iso(from), (string)raw["from"]!);
        var rows = raw["measurements"]!.AsArray();
        Assert.Equal(lines.Skip(at).Take(60).Select(l => Iso(l.Timestamp)), rows.Select(r => (string)r!["timestamp"]!));
        var latest = JsonNode.Parse(await client.GetStringAsync("/measurements/Elektra-Dach/latest"))!["measurements"]!.AsArray();
        var same = latest.First(r => (string)r!["timestamp"]! == Iso(from))!;
        Assert.Equal(same.ToJsonString(), rows[0]!.ToJsonString());

        // fields keeps only those keys (and the time).
        var few = JsonNode.Parse(await client.GetStringAsync($"/measurements/Elektra-Dach/history?from={from}&to={to}&fields=batteryVoltage,status"))!;
        Assert.Equal(["batteryVoltage", "status", "timestamp"], few["measurements"]![0]!.AsObject().Select(kv => kv.Key));

        // Buckets: rollups (1h, 2h, 1d), raw rows (5m, 90m), and ragged ends; all exact.
        var first = lines[0].Timestamp;
        var end = lines[^1].Timestamp + 1;
        foreach (var (bucket, seconds) in new[] { ("5m", 300L), ("1h", 3_600L), ("2h", 7_200L), ("90m", 5_400L), ("1d", 86_400L) })
        foreach (var (a, b) in new[] { (first, end), (first + 1_000, end - 5_000), (Day0, Day0 + 86_400) })
        {
            var answer = JsonNode.Parse(await client.GetStringAsync($"/measurements/Elektra-Dach/history?from={a}&to={b}&bucket={bucket}"))!;
            Assert.Equal(bucket, (string)answer["bucket"]!);
            AssertPointsMatch(lines, a, b, seconds, answer["points"]!.AsArray());
        }
        var point = JsonNode.Parse(await client.GetStringAsync($"/measurements/Elektra-Dach/history?from={Day0}&to={Day0 + 86_400}&bucket=1h"))!["points"]![0]!;
        Assert.Equal(["time", "count", "status", "timeToShutdown", "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate",
                      "batteryHealthEstimate", "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage"],
            point.AsObject().Select(kv => kv.Key));
        Assert.Equal(["avg", "min", "max"], point["batteryVoltage"]!.AsObject().Select(kv => kv.Key));
        var only = JsonNode.Parse(await client.GetStringAsync($"/measurements/Elektra-Dach/history?from={Day0}&to={Day0 + 86_400}&bucket=1h&fields=batteryVoltage"))!["points"]![0]!;
        Assert.Equal(["time", "batteryVoltage"], only.AsObject().Select(kv => kv.Key));

        // Unknown node: 200 and an empty list, in both forms.
        Assert.Equal($$"""{"nodeId":"nobody","from":"{{Iso(from)}}","to":"{{Iso(to)}}","bucket":"raw","measurements":[]}""",
            await client.GetStringAsync($"/measurements/nobody/history?from={from}&to={to}"));
        Assert.Empty(JsonNode.Parse(await client.GetStringAsync($"/measurements/nobody/history?from={from}&to={to}&bucket=1h"))!["points"]!.AsArray());

        // The export, fed back through the line parser, gives the same measurements.
        var export = await client.GetAsync($"/measurements/Elektra-Dach/export?from={first}&to={end}&format=lines");
        Assert.Equal("text/plain", export.Content.Headers.ContentType!.MediaType);
        var parsed = LineParser.ParsePayload(await export.Content.ReadAsByteArrayAsync(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Null(parsed.FirstRejection);
        Assert.Equal(lines, parsed.Lines);

        var csv = await client.GetAsync($"/measurements/Elektra-Dach/export?from={from}&to={to}");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", csv.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Contains("Elektra-Dach", csv.Content.Headers.ContentDisposition.FileNameStar ?? csv.Content.Headers.ContentDisposition.FileName);
        var text = await csv.Content.ReadAsStringAsync();
        var records = text.Split("\r\n");
        Assert.Equal("nodeId,isemsRevision,timestamp,openMPPTFirmwareVersion,timeToShutdown,isPowerSaveMode,openCircuitVoltage,mppVoltage," +
                     "batteryVoltage,batteryChargeEstimate,batteryHealthEstimate,batteryTemperature,lowVoltageDisconnectVoltage," +
                     "temperatureCorrectedVoltage,rateBatteryCapacity,ratedSolarModuleCapacity,latitude,longitude,status,id", records[0]);
        Assert.Equal(62, records.Length); // header, 60 rows, and the empty string after the last CRLF
        var cells = records[1].Split(',');
        Assert.Equal(["Elektra-Dach", "1", Iso(from)], cells[..3]);
        Assert.Equal(lines[at].BatteryVoltage, double.Parse(cells[8], CultureInfo.InvariantCulture));
        Assert.Equal(StatusBitNames.ToApiText(lines[at].Status), cells[18]);
        Assert.Equal((long)same["id"]!, long.Parse(cells[19], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Every_bad_parameter_gets_a_400_problem_saying_what_to_change()
    {
        await SeedAsync(DatabaseUrl, Temp.Path, "Many", Day0, 100_001, step: 1);
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();
        (string Query, string Says)[] cases =
        [
            ("/measurements/x/history?from=yesterday", "ISO 8601"),
            ("/measurements/x/history?to=2026-11-30T00:00:00", "offset"),
            ("/measurements/x/history?from=1764460800&to=1764460800", "before"),
            ("/measurements/x/history?from=2026-11-30T00:00:00Z&to=2026-11-29T00:00:00Z", "before"),
            ("/measurements/x/history?from=0&to=1764460800", "10 years"),
            ("/measurements/x/history?bucket=0m", "bucket"),
            ("/measurements/x/history?bucket=8d", "1m to 7d"),
            ("/measurements/x/history?bucket=30s", "m, h or d"),
            ("/measurements/x/history?bucket=1h&fields=latitude", "not aggregated"),
            ("/measurements/x/history?fields=batteryVoltage,nope", "'nope' is not a key"),
            ("/measurements/x/history?fields=batteryVoltage,", "empty"),
            ("/measurements/x/history?from=1764460800&to=1765460800&bucket=1m", "10,000"),
            ("/measurements/x/history?buckets=1h", "'buckets' is not a parameter"),
            ($"/measurements/Many/history?from={Day0}&to={Day0 + 200_000}", "export"),
            ("/measurements/x/export?format=xml", "csv"),
            ("/measurements/export?from=later", "from"),
        ];
        foreach (var (query, says) in cases)
        {
            var response = await client.GetAsync(query);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            var detail = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!;
            Assert.True(detail.Contains(says, StringComparison.Ordinal), $"{query}: '{detail}' does not say '{says}'");
        }
        // Odd input never gets a 5xx.
        foreach (var odd in new[]
                 {
                     "from=99999999999999999999999", "to=253402300799&from=253402300798", "from=-62135596800&to=-62135596000",
                     "from=9999-12-31T23:59:59-01:00", "from=2026-11-30T00:00:00.123456789Z", "bucket=100000d", "bucket=999999m",
                     "bucket=", "fields=,,,", "from=%00", "to=2026-02-30T00:00:00Z", "bucket=1h&from=253402000000&to=253402300799",
                 })
            foreach (var path in new[] { "/measurements/x/history", "/measurements/x/export", "/measurements/export" })
            {
                var response = await client.GetAsync($"{path}?{odd}");
                Assert.True((int)response.StatusCode < 500, $"{path}?{odd}: {response.StatusCode}");
            }
        // At the limits: 100,000 raw rows and 10,000 buckets are answered.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/measurements/Many/history?from={Day0}&to={Day0 + 100_000}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/measurements/Many/history?from={Day0}&to={Day0 + 600_000}&bucket=1m")).StatusCode);
        // An offset sent unencoded ('+' read as a space) is understood.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/measurements/Many/history?from=2026-11-30T01:00:00+01:00&to=2026-11-30T02:00:00%2B01:00")).StatusCode);
    }

    [Fact]
    public async Task A_range_whose_raw_rows_retention_deleted_is_answered_from_the_rollups_and_says_so()
    {
        var lines = await SeedAsync(DatabaseUrl, Temp.Path, "Old", Day0, 3 * 1440);
        using (var store = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, Temp.Path)))
            while (await store.DeleteOlderThanAsync(Day0 + 2 * 86_400, 1_000) > 0) { }
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();

        var answer = JsonNode.Parse(await client.GetStringAsync($"/measurements/Old/history?from={Day0}&to={Day0 + 3 * 86_400}"))!;
        Assert.Equal("1h", (string)answer["bucket"]!);
        Assert.Equal(Iso(Day0 + 2 * 86_400), (string)answer["rawDeletedBefore"]!);
        AssertPointsMatch(lines, Day0, Day0 + 3 * 86_400, 3_600, answer["points"]!.AsArray());

        var recent = JsonNode.Parse(await client.GetStringAsync($"/measurements/Old/history?from={Day0 + 2 * 86_400}&to={Day0 + 3 * 86_400}"))!;
        Assert.Equal("raw", (string)recent["bucket"]!);
        Assert.Null(recent["rawDeletedBefore"]);
        Assert.Equal(1440, recent["measurements"]!.AsArray().Count);
    }

    [Fact]
    public async Task ETag_and_304_change_exactly_when_a_row_arrives_and_compression_is_negotiated()
    {
        var node = Fleet.AddNode("Etagged", historyLines: 30);
        await using var host = new CollectorHost(Settings(node));
        await host.PollNowAsync(node.LogUrl.ToString());
        var client = host.CreateClient();
        string[] paths = ["/measurements/latest", "/measurements/Etagged/latest", $"/measurements/Etagged/history?from={DateTimeOffset.UtcNow.AddDays(-30).ToUnixTimeSeconds()}&to={DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds()}&bucket=1h"];

        var tags = new Dictionary<string, string>();
        foreach (var path in paths)
        {
            var plain = await client.GetAsync(path);
            Assert.Null(plain.Content.Headers.ContentEncoding.FirstOrDefault());
            Assert.True(plain.Headers.CacheControl?.NoCache == true, $"{path}: {plain.Headers} {plain.Content.Headers}");
            Assert.Contains("Accept-Encoding", plain.Headers.Vary);
            var identity = await plain.Content.ReadAsByteArrayAsync();
            var tag = plain.Headers.ETag!;
            Assert.False(tag.IsWeak);
            tags[path] = tag.Tag;

            // Same version: the same tag, and 304 with no body.
            var again = new HttpRequestMessage(HttpMethod.Get, path);
            again.Headers.IfNoneMatch.Add(tag);
            var notModified = await client.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());

            foreach (var (encoding, decompress) in new (string, Func<Stream, Stream>)[]
                     {
                         ("br", s => new BrotliStream(s, CompressionMode.Decompress)),
                         ("gzip", s => new GZipStream(s, CompressionMode.Decompress)),
                     })
            {
                var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding == "br" ? "gzip;q=0.5, br" : "gzip, deflate");
                var compressed = await client.SendAsync(request);
                Assert.Equal([encoding], compressed.Content.Headers.ContentEncoding);
                var bytes = await compressed.Content.ReadAsByteArrayAsync();
                using var output = new MemoryStream();
                using (var stream = decompress(new MemoryStream(bytes))) stream.CopyTo(output);
                Assert.Equal(identity, output.ToArray());
                Assert.NotEqual(tag.Tag, compressed.Headers.ETag!.Tag); // another representation, another strong tag
                // The compressed form's tag validates too.
                var revalidate = new HttpRequestMessage(HttpMethod.Get, path);
                revalidate.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
                revalidate.Headers.IfNoneMatch.Add(compressed.Headers.ETag!);
                Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(revalidate)).StatusCode);
            }
            // br refused with q=0: gzip.
            var refuse = new HttpRequestMessage(HttpMethod.Get, path);
            refuse.Headers.TryAddWithoutValidation("Accept-Encoding", "br;q=0, gzip");
            Assert.Equal(["gzip"], (await client.SendAsync(refuse)).Content.Headers.ContentEncoding);
        }

        // Nothing arrives: the tags stay.
        await host.PollNowAsync(node.LogUrl.ToString());
        foreach (var path in paths) Assert.Equal(tags[path], (await client.GetAsync(path)).Headers.ETag!.Tag);

        // A row arrives: every tag changes, and the old one gets the whole body.
        node.Append();
        await host.PollNowAsync(node.LogUrl.ToString());
        foreach (var path in paths)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("If-None-Match", tags[path]);
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.NotEqual(tags[path], response.Headers.ETag!.Tag);
        }
    }

    [Fact]
    public async Task A_large_export_streams_in_bounded_memory_and_starts_before_the_last_row_is_read()
    {
        const int rows = 200_000;
        await SeedAsync(DatabaseUrl, Temp.Path, "Big", Day0, rows, step: 10);
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();

        // Everything a first request builds (controllers, the query layer's caches) is built before measuring.
        await client.GetStringAsync($"/measurements/export?from={Day0}&to={Day0 + 100}");
        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var response = await client.GetAsync($"/measurements/export?from={Day0}&to={Day0 + rows * 10}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long read = 0, lines = 0, peak = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            read += n;
            lines += buffer.AsSpan(0, n).Count((byte)'\n');
            if (read > 5_000_000 && peak == 0) peak = GC.GetTotalMemory(forceFullCollection: true) - before;
        }

        Assert.Equal(rows + 1, lines);
        Assert.True(read > 20_000_000, $"{read} bytes");
        // A quarter into a 20+ MB export the heap has grown by far less than the export: it is not being held.
        Assert.True(peak < 16_000_000, $"heap grew by {peak:N0} bytes while {read:N0} were exported");
    }
}

public sealed class HistoryApiDocumentTests : ServerTestBase
{
    [Fact]
    public async Task The_openapi_document_describes_history_and_export_with_their_parameters_and_400s()
    {
        await using var host = new CollectorHost(Settings());
        var document = JsonNode.Parse(await host.CreateClient().GetStringAsync("/openapi/v1.json"))!;
        foreach (var (path, parameters) in new[]
                 {
                     ("/measurements/{nodeId}/history", new[] { "nodeId", "from", "to", "bucket", "fields" }),
                     ("/measurements/{nodeId}/export", new[] { "nodeId", "from", "to", "format" }),
                     ("/measurements/export", new[] { "from", "to", "format" }),
                 })
        {
            var operation = document["paths"]![path]!["get"]!;
            Assert.False(string.IsNullOrEmpty((string?)operation["summary"]), path);
            Assert.False(string.IsNullOrEmpty((string?)operation["operationId"]), path);
            Assert.Equal("Measurements", (string)operation["tags"]![0]!);
            Assert.NotNull(operation["responses"]!["400"]!["content"]!["application/problem+json"]);
            Assert.Equal(parameters, operation["parameters"]!.AsArray().Select(p => (string)p!["name"]!));
            Assert.All(operation["parameters"]!.AsArray(), p => Assert.False(string.IsNullOrEmpty((string?)p!["description"]), $"{path} {p!["name"]}"));
            // Public: security is declared, and no requirement in it names a scheme.
            Assert.All(operation["security"]!.AsArray(), requirement => Assert.Empty(requirement!.AsObject()));
        }
        Assert.Contains(document["tags"]!.AsArray(), t => (string)t!["name"]! == "Measurements" && !string.IsNullOrEmpty((string?)t["description"]));
    }
}
