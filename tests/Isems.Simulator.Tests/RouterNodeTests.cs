using System.IO.Compression;
using System.Net;
using System.Text;

namespace Isems.Simulator.Tests;

public sealed class RouterNodeTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_537_249_962);
    private readonly FixedClock _clock = new(Now);
    private SimulatedFleet _fleet = null!;

    public Task InitializeAsync()
    {
        _fleet = SimulatedFleet.Start(clock: _clock);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _fleet.DisposeAsync();

    private static string Log(SimulatedNode node) => string.Concat(node.Lines.Select(l => l + "\n"));

    [Fact]
    public async Task The_log_is_served_whole_oldest_first_with_a_length_and_connection_close()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 10);

        using var response = await Http.GetAsync(node.LogUrl);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 1), response.Version);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Encoding.UTF8.GetByteCount(body), response.Content.Headers.ContentLength);
        Assert.True(response.Headers.ConnectionClose);
        Assert.Equal(Log(node), body);
        Assert.Equal(10, node.Lines.Count);
        Assert.Equal(Now.ToUnixTimeSeconds(), node.NewestTimestamp);
        Assert.Equal(node.NewestTimestamp, LineShapes.Timestamp(node.Lines[^1]));
        Assert.Equal(1, node.Requests);
        Assert.Equal(body.Length, node.BytesServed);
    }

    [Fact]
    public void The_url_is_the_escaped_node_id_then_the_log_path()
    {
        var node = _fleet.AddNode("Elektra Dach");
        Assert.Equal($"{_fleet.BaseAddress}Elektra%20Dach/ISEMS/ffopenmppt.log", node.LogUrl.AbsoluteUri);
        Assert.Equal("127.0.0.1", _fleet.BaseAddress.Host);
    }

    [Fact]
    public async Task An_escaped_node_id_is_routed_to_its_node()
    {
        var node = _fleet.AddNode("Elektra Dach", historyLines: 2);
        using var response = await Http.GetAsync(node.LogUrl);
        Assert.Equal(Log(node), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_range_from_N_gives_exactly_the_bytes_after_N()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 20);
        var whole = Encoding.UTF8.GetBytes(Log(node));
        var from = whole.Length - 2 * (node.Lines[^1].Length + 1);

        using var response = await Http.GetAsync(node.LogUrl, range: $"bytes={from}-");
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(whole[from..], body);
        Assert.Equal($"bytes {from}-{whole.Length - 1}/{whole.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(node.Lines.TakeLast(2), Encoding.UTF8.GetString(body).TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_range_at_or_past_the_end_is_416_with_the_total()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 5);
        var total = Encoding.UTF8.GetByteCount(Log(node));

        foreach (var from in new[] { total, total + 1000 })
        {
            using var response = await Http.GetAsync(node.LogUrl, range: $"bytes={from}-");
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
            Assert.Equal($"bytes */{total}", response.Content.Headers.ContentRange?.ToString());
        }
    }

    [Fact]
    public async Task A_node_that_ignores_range_sends_200_and_the_whole_log()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 5);
        node.HonorRange = false;

        using var response = await Http.GetAsync(node.LogUrl, range: "bytes=100-");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Content.Headers.ContentRange);
        Assert.Equal(Log(node), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Gzip_is_sent_only_when_asked_and_never_for_a_range()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 50);
        node.Gzip = true;

        using (var zipped = await Http.GetAsync(node.LogUrl, gzip: true))
        {
            Assert.Equal(["gzip"], zipped.Content.Headers.ContentEncoding);
            await using var gunzip = new GZipStream(await zipped.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
            Assert.Equal(Log(node), await new StreamReader(gunzip).ReadToEndAsync());
        }
        using (var plain = await Http.GetAsync(node.LogUrl))
        {
            Assert.Empty(plain.Content.Headers.ContentEncoding);
            Assert.Equal(Log(node), await plain.Content.ReadAsStringAsync());
        }
        using (var partial = await Http.GetAsync(node.LogUrl, range: "bytes=10-", gzip: true))
        {
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Empty(partial.Content.Headers.ContentEncoding);
            Assert.Equal(Log(node)[10..], await partial.Content.ReadAsStringAsync());
        }
        node.Append();
        using (var fresh = await Http.GetAsync(node.LogUrl, gzip: true))
        {
            await using var gunzip = new GZipStream(await fresh.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
            Assert.Equal(Log(node), await new StreamReader(gunzip).ReadToEndAsync());
        }
    }

    [Fact]
    public async Task A_rotated_log_is_404_until_the_next_line_starts_it_afresh()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 30);
        var before = node.NewestTimestamp;

        node.Rotate();
        using (var gone = await Http.GetAsync(node.LogUrl))
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Empty(node.Lines);

        node.Append();
        using var fresh = await Http.GetAsync(node.LogUrl);
        var line = Assert.Single((await fresh.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n'));
        Assert.Equal(before + 60, LineShapes.Timestamp(line));
        Assert.Equal(before + 60, node.NewestTimestamp);
    }

    [Fact]
    public void The_log_rotates_itself_beyond_3660_lines()
    {
        var full = _fleet.AddNode("full", historyLines: 3660);
        Assert.Equal(3660, full.Lines.Count);
        full.Append();
        Assert.Equal(LineShapes.Timestamp(Assert.Single(full.Lines)), full.NewestTimestamp);

        var longer = _fleet.AddNode("longer", historyLines: 4000);
        Assert.Equal(340, longer.Lines.Count);
        Assert.Equal(340, longer.GoodLineCount);
        Assert.Equal(Now.ToUnixTimeSeconds(), longer.NewestTimestamp);
        Assert.Equal(longer.NewestTimestamp - 339 * 60, LineShapes.Timestamp(longer.Lines[0]));
    }

    [Fact]
    public async Task Other_paths_and_unknown_nodes_are_404()
    {
        var node = _fleet.AddNode("Elektra-Dach");
        foreach (var path in new[] { "Elektra-Dach/", "Elektra-Dach/ISEMS/other.log", "Elektra-Dach/csv.log", "Nobody/ISEMS/ffopenmppt.log", "" })
        {
            using var response = await Http.GetAsync(new Uri(_fleet.BaseAddress, path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        Assert.Equal(3, node.Requests);
        Assert.Equal(5, _fleet.RequestsServed);
    }

    [Fact]
    public async Task A_node_without_lines_has_no_log_file()
    {
        var node = _fleet.AddNode("new", historyLines: 0);
        using var response = await Http.GetAsync(node.LogUrl);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, node.NewestTimestamp);

        node.Append();
        Assert.Equal(Now.ToUnixTimeSeconds(), node.NewestTimestamp);
    }

    [Fact]
    public void Every_Nth_appended_line_is_garbage()
    {
        var node = _fleet.AddNode("Elektra-Dach", historyLines: 0);
        node.BadLineEvery = 7;
        node.Append(70);

        var lines = node.Lines;
        Assert.Equal(70, lines.Count);
        Assert.Equal(60, node.GoodLineCount);
        Assert.Equal(60, lines.Count(LineShapes.IsMeasurement));
        for (var i = 0; i < lines.Count; i++)
            Assert.Equal((i + 1) % 7 != 0, LineShapes.IsMeasurement(lines[i]));
        // Both kinds of damage turn up: a line cut short and a field that is not a number.
        Assert.Contains(lines, l => l.Split(';').Length != 19);
        Assert.Contains(lines, l => l.Split(';').Length == 19 && !LineShapes.IsMeasurement(l));
    }

    [Fact]
    public async Task Lines_appended_while_the_log_is_served_never_tear_a_response()
    {
        var node = _fleet.AddNode("busy", historyLines: 100);
        var appending = Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++) node.Append();
        });
        var bodies = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            using var response = await Http.GetAsync(node.LogUrl);
            return await response.Content.ReadAsStringAsync();
        }));
        await appending;

        foreach (var body in bodies)
        {
            Assert.EndsWith("\n", body);
            var timestamps = body.TrimEnd('\n').Split('\n').Select(LineShapes.Timestamp).ToArray();
            Assert.All(timestamps.Zip(timestamps.Skip(1)), pair => Assert.Equal(60, pair.Second - pair.First));
        }
    }
}
