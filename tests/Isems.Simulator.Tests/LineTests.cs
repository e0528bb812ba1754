using System.Globalization;

namespace Isems.Simulator.Tests;

public sealed class LineTests
{
    private const long Start = 1_537_249_962;

    [Fact]
    public void The_shapes_fit_the_real_samples()
    {
        Assert.All(LineShapes.Sample("router-ffopenmppt.log"), line => Assert.Empty(LineShapes.Mismatches(line, LineShapes.Router)));
        Assert.All(LineShapes.Sample("esp-mqtt-csvlog.txt"), line => Assert.Empty(LineShapes.Mismatches(line, LineShapes.Esp)));
    }

    [Fact]
    public void Router_lines_have_the_sample_format_around_the_clock()
    {
        for (var t = Start; t < Start + 4 * 86_400; t += 600)
        {
            var line = SimulatedLines.Router("Elektra-Dach", t);
            Assert.Empty(LineShapes.Mismatches(line, LineShapes.Router));
            Assert.True(LineShapes.IsMeasurement(line), line);
            Assert.Equal(t, LineShapes.Timestamp(line));
        }
    }

    [Fact]
    public void Esp_lines_have_the_sample_format_around_the_clock()
    {
        for (var t = Start; t < Start + 4 * 86_400; t += 600)
        {
            var line = SimulatedLines.Esp("FF-ESP-Hof", t);
            Assert.Empty(LineShapes.Mismatches(line, LineShapes.Esp));
            Assert.True(LineShapes.IsMeasurement(line), line);
        }
    }

    [Fact]
    public void Lines_are_deterministic_per_node_time_and_seed()
    {
        Assert.Equal(SimulatedLines.Router("a", Start), SimulatedLines.Router("a", Start));
        Assert.NotEqual(SimulatedLines.Router("a", Start)[2..], SimulatedLines.Router("b", Start)[2..]);
        Assert.NotEqual(SimulatedLines.Router("a", Start), SimulatedLines.Router("a", Start, seed: 1));
    }

    [Fact]
    public void Values_follow_the_day_smoothly()
    {
        var day = Enumerable.Range(0, 1440).Select(m => SimulatedLines.Router("Elektra-Dach", Start + m * 60L).Split(';')).ToArray();
        double Field(string[] f, int i) => double.Parse(f[i], CultureInfo.InvariantCulture);

        // Sun by day, dark by night; the battery charges and drains, a little each minute.
        Assert.InRange(day.Max(f => Field(f, 6)), 17, 22);
        Assert.InRange(day.Min(f => Field(f, 6)), 0, 1);
        Assert.True(day.Max(f => Field(f, 9)) - day.Min(f => Field(f, 9)) >= 20);
        Assert.All(day.Zip(day.Skip(1)), p => Assert.InRange(Math.Abs(Field(p.First, 8) - Field(p.Second, 8)), 0, 0.1));
        Assert.Contains(day, f => f[18] == "902");
        Assert.Contains(day, f => f[18] is "500" or "580");
    }

    [Fact]
    public async Task A_nodes_log_round_trips_field_by_field()
    {
        await using var fleet = SimulatedFleet.Start();
        var router = fleet.AddNode("Elektra-Dach", historyLines: 200);
        var esp = fleet.AddNode("FF-ESP-Hof", NodeKind.Esp, historyLines: 5);

        using var response = await Http.GetAsync(router.LogUrl);
        var lines = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');

        Assert.Equal(200, lines.Length);
        Assert.All(lines, l => Assert.Equal(19, l.Split(';').Length));
        Assert.All(lines, l => Assert.Equal("Elektra-Dach", l.Split(';')[0]));
        Assert.All(lines, l => Assert.Empty(LineShapes.Mismatches(l, LineShapes.Router)));
        var timestamps = lines.Select(LineShapes.Timestamp).ToArray();
        Assert.All(timestamps.Zip(timestamps.Skip(1)), p => Assert.Equal(60, p.Second - p.First));
        Assert.Equal(SimulatedLines.Router("Elektra-Dach", timestamps[0]), lines[0]);

        var espLines = esp.Lines;
        Assert.All(espLines, l => Assert.Empty(LineShapes.Mismatches(l, LineShapes.Esp)));
        Assert.All(espLines.Zip(espLines.Skip(1)), p => Assert.Equal(15, LineShapes.Timestamp(p.Second) - LineShapes.Timestamp(p.First)));
        Assert.Equal(SimulatedLines.Esp("FF-ESP-Hof", esp.NewestTimestamp), espLines[^1]);
    }
}
