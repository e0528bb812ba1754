using System.Text;
using Isems.LineFormat;
using Isems.Testing;

namespace Isems.LineFormat.Tests;

public sealed class LineParserTests
{
    // 2026-11-27, a fixed "now" so the future check does not drift.
    private const long Now = 1_795_000_000;

    private static Measurement Parse(string line)
    {
        Assert.True(LineParser.TryParse(line, Now, out var m, out var rejection), rejection.ToString());
        return m!;
    }

    private static LineRejection Reject(string line)
    {
        Assert.False(LineParser.TryParse(line, Now, out _, out var rejection));
        return rejection;
    }

    [Fact]
    public void A_19_field_router_line_gives_every_field()
    {
        var m = Parse("Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.507309;13.458635;902");

        Assert.Equal(new Measurement("Elektra-Dach", "1", 1537249962, "ATmega8_A_1", 0, 0, 14.798, 13.137, 12.176, 55, 100, 16,
            11.7, 14.2, 7, 20, 52.507309, 13.458635, 0x902), m);
        Assert.False(m.IsPowerSaveMode);
        Assert.Equal(new DateTimeOffset(2018, 9, 18, 5, 52, 42, TimeSpan.Zero), m.Time);
    }

    [Fact]
    public void An_18_field_line_has_no_status()
    {
        var m = Parse("Elektra-Solar1;1;1522935117;5;480;0;22.0;18.0;14.0;96;100;23;11.7;14.1;17;50;52.507454;13.458673");
        Assert.Null(m.Status);
        Assert.Equal("5", m.OpenMpptFirmwareVersion);
        Assert.Equal(480, m.TimeToShutdown);
    }

    [Theory]
    [InlineData("0", false)]
    [InlineData("1", true)]
    [InlineData("3", true)]
    [InlineData("6", true)]
    public void Any_non_zero_power_save_level_is_power_saving(string level, bool expected)
    {
        var m = Parse($"N;1;1537249962;ATmega8_A_1;0;{level};14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902");
        Assert.Equal(expected, m.IsPowerSaveMode);
        Assert.Equal(int.Parse(level), m.PowerSaveLevel);
    }

    [Theory]
    [InlineData("router-ffopenmppt.log", 7)]
    [InlineData("legacy-18-field.txt", 2)]
    [InlineData("status-19-field.txt", 1)]
    [InlineData("esp-mqtt-csvlog.txt", 5)]
    public void Every_sample_line_parses(string file, int expected)
    {
        var parsed = LineParser.ParsePayload(File.ReadAllBytes(Samples.Path(file)), Now);
        Assert.Equal(expected, parsed.Lines.Count);
        Assert.Equal(0, parsed.Rejections.Total);
    }

    [Fact]
    public void The_status_sample_is_fully_charged_and_healthy()
    {
        var m = LineParser.ParsePayload(Samples.Read("status-19-field.txt"), Now).Lines.Single();
        Assert.Equal(0x300, m.Status);
        Assert.Equal(["fully charged", "healthy"], StatusBitNames.Describe(m.Status!.Value));
        Assert.Equal("0x300", StatusBitNames.ToApiText(m.Status));
    }

    [Fact]
    public void The_esp_placeholder_is_rejected_as_too_old()
    {
        var parsed = LineParser.ParsePayload(Samples.Read("esp-placeholder.txt"), Now);
        Assert.Empty(parsed.Lines);
        Assert.Equal(1, parsed.Rejections[RejectReason.TimestampTooOld]);
    }

    [Fact]
    public void The_esp_payload_without_trailing_newline_keeps_its_last_line()
    {
        var parsed = LineParser.ParsePayload(Samples.Read("esp-mqtt-csvlog.txt").TrimEnd('\n'), Now);
        Assert.Equal(1606829160, parsed.Lines[^1].Timestamp);
    }

    [Fact]
    public void Carriage_returns_and_empty_lines_are_tolerated()
    {
        var text = string.Join("\r\n", Samples.Lines("router-ffopenmppt.log")) + "\r\n\r\n";
        var parsed = LineParser.ParsePayload(text, Now);
        Assert.Equal(7, parsed.Lines.Count);
        Assert.Equal(0, parsed.Rejections.Total);
        Assert.Equal(0x902, parsed.Lines[0].Status);
    }

    public static TheoryData<string, RejectReason> BadLines => new()
    {
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137", RejectReason.FieldCount },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.507309;13.458635;902;1", RejectReason.FieldCount },
        { "a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r;s;t;u;v;w", RejectReason.FieldCount },
        { ";1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.507309;13.458635;902", RejectReason.NodeId },
        { new string('x', 65) + ";1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.NodeId },
        { "Elektra/Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.NodeId },
        { "Elektra\u0007Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.NodeId },
        { "Elektra-Dach;1;15372x9962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.Number },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14,798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.Number },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.Number },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;NaN;902", RejectReason.Number },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;on;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.Number },
        { "Elektra-Dach;1;1537249962;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;9g2", RejectReason.Status },
        { "Elektra-Dach;1;978307199;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.TimestampTooOld },
        { "Elektra-Dach;1;12;ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.TimestampTooOld },
        { $"Elektra-Dach;1;{Now + 86_401};ATmega8_A_1;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.5;13.4;902", RejectReason.TimestampInFuture },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public void Each_bad_line_is_rejected_with_its_reason(string line, RejectReason reason)
    {
        var rejection = Reject(line);
        Assert.Equal(reason, rejection.Reason);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
    }

    [Fact]
    public void The_oldest_and_newest_acceptable_timestamps_are_accepted()
    {
        Parse("N;1;978307200;F;0;0;1;1;1;1;1;1;1;1;1;1;0;0");
        Parse($"N;1;{Now + 86_400};F;0;0;1;1;1;1;1;1;1;1;1;1;0;0");
    }

    [Fact]
    public void A_node_id_of_64_characters_with_non_ascii_letters_is_accepted()
    {
        var id = "Südstern-" + new string('ä', 55);
        Assert.Equal(64, id.Length);
        Assert.Equal(id, Parse($"{id};1;1537249962;F;0;0;1;1;1;1;1;1;1;1;1;1;0;0").NodeId);
    }

    [Fact]
    public void A_node_id_that_is_not_utf8_is_rejected()
    {
        var bytes = Encoding.UTF8.GetBytes("X;1;1537249962;F;0;0;1;1;1;1;1;1;1;1;1;1;0;0");
        bytes[0] = 0xFF;
        Assert.False(LineParser.TryParse(bytes, Now, out _, out var rejection));
        Assert.Equal(RejectReason.NodeId, rejection.Reason);
    }

    [Fact]
    public void A_bad_line_every_seventh_in_10000_loses_exactly_the_bad_ones()
    {
        var good = Samples.Lines("router-ffopenmppt.log")[0];
        var builder = new StringBuilder();
        var expectedGood = 0;
        for (var i = 0; i < 10_000; i++)
        {
            if (i % 7 == 6) builder.Append("garbage;line;").Append(i).Append('\n');
            else
            {
                builder.Append(good.Replace("1537249962", (1537249962 + i * 60).ToString())).Append('\n');
                expectedGood++;
            }
        }
        var parsed = LineParser.ParsePayload(builder.ToString(), Now);
        Assert.Equal(expectedGood, parsed.Lines.Count);
        Assert.Equal(10_000 - expectedGood, parsed.Rejections[RejectReason.FieldCount]);
        Assert.Equal(Enumerable.Range(0, 10_000).Where(i => i % 7 != 6).Select(i => 1537249962L + i * 60), parsed.Lines.Select(l => l.Timestamp));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("14.073")]
    [InlineData("52.507309")]
    [InlineData("13.458635")]
    [InlineData("100")]
    [InlineData("0.1")]
    [InlineData("123456789012345")]
    [InlineData("1234567890123456789")]
    [InlineData("1.5e3")]
    [InlineData("+7")]
    [InlineData("11900")]
    public void Numbers_parse_to_the_same_double_as_the_framework(string text)
    {
        Assert.True(LineParser.TryParseNumber(Encoding.ASCII.GetBytes(text), out var value));
        Assert.Equal(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Fact]
    public void Random_decimals_parse_bit_exactly()
    {
        var random = new Random(42);
        for (var i = 0; i < 100_000; i++)
        {
            var text = (random.NextDouble() * Math.Pow(10, random.Next(-3, 8))).ToString("F" + random.Next(0, 7), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(LineParser.TryParseNumber(Encoding.ASCII.GetBytes(text), out var value));
            Assert.Equal(BitConverter.DoubleToInt64Bits(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture)), BitConverter.DoubleToInt64Bits(value));
        }
    }

    [Fact]
    public void Rejection_counts_add_up_by_reason()
    {
        var counts = RejectionCounts.None.Add(RejectReason.Number).Add(RejectReason.Number).Add(RejectReason.NodeId);
        Assert.Equal(3, counts.Total);
        Assert.Equal(new Dictionary<string, int> { ["node_id"] = 1, ["number"] = 2 }, counts.ToDictionary());
        Assert.Equal(counts, RejectionCounts.None.Add(counts));
    }
}
