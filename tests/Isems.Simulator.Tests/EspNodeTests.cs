using System.Net;
using System.Text;

namespace Isems.Simulator.Tests;

public sealed class EspNodeTests : IAsyncLifetime
{
    private const string Placeholder = "ESP32-Meshnode-Default;1;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_606_829_160);
    private SimulatedFleet _fleet = null!;

    public Task InitializeAsync()
    {
        _fleet = SimulatedFleet.Start(clock: new FixedClock(Now));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _fleet.DisposeAsync();

    [Fact]
    public async Task Answers_bare_HTTP_1_0_as_text_html_without_length_and_closes()
    {
        var node = _fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 8);

        var raw = Encoding.Latin1.GetString(await Http.RawAsync(node.LogUrl));
        var split = raw.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = raw[..split].Split("\r\n");
        var body = raw[(split + 4)..];

        Assert.Equal("HTTP/1.0 200 OK", head[0]);
        Assert.Contains("Content-Type: text/html", head);
        Assert.DoesNotContain(head, h => h.StartsWith("Content-Length", StringComparison.OrdinalIgnoreCase));
        Assert.False(body.EndsWith('\n'));
        Assert.Equal(string.Join("\n", node.Lines), body);
        Assert.Equal(5, node.Lines.Count);
    }

    [Fact]
    public async Task Serves_its_last_five_lines_fifteen_seconds_apart_to_HttpClient()
    {
        var node = _fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 20);

        using var response = await Http.GetAsync(node.LogUrl, range: "bytes=10-");
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 0), response.Version);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(node.Lines, lines);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => Now.ToUnixTimeSeconds() - 60 + 15 * i), lines.Select(LineShapes.Timestamp));
        Assert.Equal(5, node.GoodLineCount);

        node.Append(2);
        Assert.Equal(Now.ToUnixTimeSeconds() + 30, node.NewestTimestamp);
        Assert.Equal(node.NewestTimestamp, LineShapes.Timestamp(node.Lines[^1]));
    }

    [Fact]
    public async Task Any_path_with_dot_log_under_its_id_is_answered_others_are_404()
    {
        var node = _fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 5);
        foreach (var path in new[] { "FF-ESP-Hof/csv.log", "FF-ESP-Hof/ISEMS/ffopenmppt.log", "FF-ESP-Hof/anything.log?x=1" })
        {
            using var response = await Http.GetAsync(new Uri(_fleet.BaseAddress, path));
            Assert.Equal(string.Join("\n", node.Lines), await response.Content.ReadAsStringAsync());
        }
        using var other = await Http.GetAsync(new Uri(_fleet.BaseAddress, "FF-ESP-Hof/index.html"));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Before_its_first_reading_it_serves_the_placeholder()
    {
        var node = _fleet.AddNode("FF-ESP-Neu", NodeKind.Esp, historyLines: 0);

        using var response = await Http.GetAsync(node.LogUrl);

        Assert.Equal(Placeholder, await response.Content.ReadAsStringAsync());
        Assert.Equal([Placeholder], node.Lines);
        Assert.Equal(0, node.GoodLineCount);
        Assert.Equal(Placeholder, LineShapes.Sample("esp-placeholder.txt").Single());

        node.Append();
        Assert.Equal(Now.ToUnixTimeSeconds(), LineShapes.Timestamp(Assert.Single(node.Lines)));
    }

    [Fact]
    public void Garbage_lines_count_among_the_last_five()
    {
        var node = _fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 0);
        node.BadLineEvery = 2;
        node.Append(5);

        Assert.Equal(5, node.Lines.Count);
        Assert.Equal(3, node.GoodLineCount);
        Assert.Equal(3, node.Lines.Count(LineShapes.IsMeasurement));
    }

    [Fact]
    public void An_ESP_board_has_no_log_file_to_rotate() =>
        Assert.Throws<InvalidOperationException>(() => _fleet.AddNode("FF-ESP-Hof", NodeKind.Esp).Rotate());
}
