namespace Isems.Server.Tests;

/// <summary>
/// After a restart each router's log is read on from where it was (a bookmark saved with the lines), not fetched whole
/// again over the mesh; and a log that was rotated and grew past that point meanwhile is recognised and read whole.
/// </summary>
public sealed class RestartResumeTests : ServerTestBase
{
    [Fact]
    public async Task After_a_restart_a_log_is_read_on_from_where_it_was_not_fetched_whole_again()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 300);
        await using (var first = new CollectorHost(Settings(node)))
            Assert.Equal(300, (await first.PollNowAsync(node.LogUrl.ToString())).Stored);
        var wholeLog = node.BytesServed;
        node.Append(2);

        await using var second = new CollectorHost(Settings(node));
        var served = node.BytesServed;
        var outcome = await second.PollNowAsync(node.LogUrl.ToString());

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal((2, 0), (outcome.Stored, outcome.Duplicates));
        // The last line read (to recognise the log) and the two new ones, against the whole log the first time.
        var resumed = node.BytesServed - served;
        Assert.True(resumed < wholeLog / 50, $"{resumed} bytes fetched after the restart; the whole log is {wholeLog}");
        Assert.Equal(302, await HistoryCount(second.CreateClient(), "Elektra-Dach"));
    }

    [Fact]
    public async Task A_log_rotated_and_grown_past_the_saved_point_while_the_collector_was_away_is_read_whole()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 50);
        await using (var first = new CollectorHost(Settings(node)))
            await first.PollNowAsync(node.LogUrl.ToString());
        // Rotated and written again with 60 other lines, the first 50 of them as long as the old ones (other timestamps
        // with as many digits): a '\n' sits exactly where the old log's last one was. Only the whole last line tells.
        var rewritten = node.Lines.Select(line => ShiftTimestamp(line, -1_000_000)).ToList();
        rewritten.AddRange(node.Lines.Take(10).Select(line => ShiftTimestamp(line, -2_000_000)));
        node.ReplaceLog(rewritten);

        await using var second = new CollectorHost(Settings(node));
        var outcome = await second.PollNowAsync(node.LogUrl.ToString());

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(60, outcome.Stored);
        Assert.Equal(110, await HistoryCount(second.CreateClient(), "Elektra-Dach"));
    }

    private static string ShiftTimestamp(string line, long seconds)
    {
        var fields = line.Split(';');
        fields[2] = (long.Parse(fields[2]) + seconds).ToString();
        return string.Join(';', fields);
    }

    [Fact]
    public async Task A_log_that_did_not_change_while_the_collector_was_away_costs_one_line_after_a_restart()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 100);
        await using (var first = new CollectorHost(Settings(node)))
            await first.PollNowAsync(node.LogUrl.ToString());

        await using var second = new CollectorHost(Settings(node));
        var served = node.BytesServed;
        var outcome = await second.PollNowAsync(node.LogUrl.ToString());

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal((0, 0), (outcome.Stored, outcome.Duplicates));
        Assert.True(node.BytesServed - served < 300, $"{node.BytesServed - served} bytes fetched for an unchanged log");
    }

    [Fact]
    public async Task A_node_configured_by_address_is_one_node_after_a_restart_before_any_poll()
    {
        var node = Fleet.AddNode("Elektra-Dach", historyLines: 20);
        await using (var first = new CollectorHost(Settings(node)))
            await first.PollNowAsync(node.LogUrl.ToString());
        var requests = node.Requests;

        // Its rows name "Elektra-Dach", its registry entry only the address: the bookmark says they are one node.
        await using var second = new CollectorHost(Settings(node));
        var nodes = System.Text.Json.Nodes.JsonNode.Parse(await second.CreateClient().GetStringAsync("/nodes"))!["nodes"]!.AsArray();

        Assert.Equal(requests, node.Requests);
        var only = Assert.Single(nodes)!;
        Assert.Equal("Elektra-Dach", (string)only["nodeId"]!);
        Assert.Equal(node.LogUrl.ToString(), (string)only["url"]!);
    }
}
