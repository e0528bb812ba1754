using System.Text;
using Isems.LineFormat;

namespace Isems.LineFormat.Tests;

public sealed class JsonMeasurementParserTests
{
    private const long Now = 1_795_000_000;

    private const string EspJson = """
        {"nodeId":"esp-7","isemsRevision":"1","timestamp":1537249962,"openMPPTFirmwareVersion":"ESP_2.0",
         "timeToShutdown":0,"isPowerSaveMode":0,"openCircuitVoltage":14.798,"mppVoltage":13.137,"batteryVoltage":12.176,
         "batteryChargeEstimate":55,"batteryHealthEstimate":100,"batteryTemperature":16,"lowVoltageDisconnectVoltage":11.7,
         "temperatureCorrectedVoltage":14.2,"rateBatteryCapacity":7,"ratedSolarModuleCapacity":20,
         "latitude":52.507309,"longitude":13.458635,"status":"902"}
        """;

    private static ParsedPayload? Parse(string json) => JsonMeasurementParser.Parse(Encoding.UTF8.GetBytes(json), Now);

    [Fact]
    public void A_json_object_gives_the_same_measurement_as_its_line()
    {
        var parsed = Parse(EspJson)!;

        Assert.True(LineParser.TryParse("esp-7;1;1537249962;ESP_2.0;0;0;14.798;13.137;12.176;55;100;16;11.7;14.2;7;20;52.507309;13.458635;902",
            Now, out var fromLine, out _));
        Assert.Equal(fromLine, Assert.Single(parsed.Lines));
        Assert.Equal(0x902, parsed.Lines[0].Status);
        Assert.Equal(RejectionCounts.None, parsed.Rejections);
    }

    [Fact]
    public void Without_status_it_is_an_18_field_measurement_and_power_save_is_numeric()
    {
        var json = EspJson.Replace(""","status":"902"}""", "}").Replace("\"isPowerSaveMode\":0", "\"isPowerSaveMode\":3");

        var m = Assert.Single(Parse(json)!.Lines);

        Assert.Null(m.Status);
        Assert.True(m.IsPowerSaveMode);
        Assert.Equal(3, m.PowerSaveLevel);
    }

    [Theory]
    [InlineData("\"timestamp\":1537249962", "\"timestamp\":0", RejectReason.TimestampTooOld)]
    [InlineData("\"timestamp\":1537249962", "\"timestamp\":1895000000", RejectReason.TimestampInFuture)]
    [InlineData("\"mppVoltage\":13.137", "\"mppVoltage\":\"n/a\"", RejectReason.Number)]
    [InlineData("\"status\":\"902\"", "\"status\":\"x9\"", RejectReason.Status)]
    [InlineData("\"nodeId\":\"esp-7\"", "\"nodeId\":\"a/b\"", RejectReason.NodeId)]
    [InlineData("\"nodeId\":\"esp-7\"", "\"nodeId\":\"a;b\"", RejectReason.NodeId)]
    [InlineData("\"mppVoltage\":13.137,", "", RejectReason.FieldCount)]
    public void A_bad_value_is_rejected_for_the_same_reason_as_in_a_line(string good, string bad, RejectReason reason)
    {
        var parsed = Parse(EspJson.Replace(good, bad))!;

        Assert.Empty(parsed.Lines);
        Assert.Equal(1, parsed.Rejections[reason]);
        Assert.Equal(reason, parsed.FirstRejection!.Value.Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"nodeId\":\"esp-7\"")]
    [InlineData("{} {}")]
    public void What_is_not_one_json_object_is_no_payload_at_all(string payload) => Assert.Null(Parse(payload));
}
