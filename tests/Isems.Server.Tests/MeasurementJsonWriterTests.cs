using System.Text;
using System.Text.Json;
using Isems.Api.Json;
using Isems.LineFormat;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class MeasurementJsonWriterTests
{
    /// <summary>The fast writer must send exactly what serializing the documented shape sends, for every kind of line.</summary>
    [Fact]
    public void Writes_byte_for_byte_what_the_documented_shape_serializes_to()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var lines = new[] { "router-ffopenmppt.log", "legacy-18-field.txt", "status-19-field.txt" }
            .SelectMany(Samples.Lines)
            .Append("Südstern \"7\";1;1537249962;ESP_2.0;-0.5;3;1e-7;13.137;12.176;55;100;16;11700;14.2;7;20;-52.507309;13.458635;fff")
            .Select(line => LineParser.ParsePayload(line, now).Lines.Single())
            .ToList();
        Assert.True(lines.Count >= 5);
        var rows = lines.Select((m, i) => new StoredMeasurement(i + 1L << 33, m)).ToList();

        var fast = Encoding.UTF8.GetString(MeasurementJsonWriter.ToUtf8(rows));
        var documented = JsonSerializer.Serialize(MeasurementList.From(rows), new JsonSerializerOptions(JsonSerializerDefaults.Web));

        Assert.Equal(documented, fast);
        Assert.Contains("\"status\":\"0xfff\"", fast);
    }
}
