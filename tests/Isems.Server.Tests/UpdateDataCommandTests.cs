using Isems.Server.Commands;
using Isems.Simulator;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class UpdateDataCommandTests : ServerTestBase
{

    [Fact]
    public async Task Polls_every_node_once_prints_a_line_each_and_fails_if_one_failed()
    {
        var good = Fleet.AddNode("Good", historyLines: 12);
        var bad = Fleet.AddNode("Bad", historyLines: 12);
        bad.Fault = NodeFault.ServerError;
        var output = new StringWriter();

        var exit = await UpdateDataCommand.RunAsync(
            [$"--DATABASE_URL={DatabaseUrl}", $"--ISEMS_ROUTER_IPS={good.LogUrl},{bad.LogUrl}"], output);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, exit);
        Assert.Equal(2, lines.Length);
        Assert.Equal($"{good.LogUrl} (Good): stored 12, duplicates 0, rejected 0", lines[0].TrimEnd());
        Assert.StartsWith($"{bad.LogUrl}: failed: HTTP 500", lines[1]);
        Assert.Equal(1, bad.Requests);
    }

    [Fact]
    public async Task A_second_run_finds_only_duplicates_and_succeeds()
    {
        var node = Fleet.AddNode("Good", historyLines: 12);
        string[] args = [$"--DATABASE_URL={DatabaseUrl}", $"--ISEMS_ROUTER_IPS={node.LogUrl}"];
        Assert.Equal(0, await UpdateDataCommand.RunAsync(args, TextWriter.Null));
        var output = new StringWriter();

        Assert.Equal(0, await UpdateDataCommand.RunAsync(args, output));

        Assert.Contains("stored 0, duplicates 12", output.ToString());
        using var store = new MeasurementStore(DatabaseTarget.Parse(DatabaseUrl, Temp.Path));
        Assert.Equal(12, await store.CountAsync());
    }
}
