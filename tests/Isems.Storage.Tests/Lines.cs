using Isems.LineFormat;
using Isems.Testing;

namespace Isems.Storage.Tests;

/// <summary>Measurements for the tests: made up, or parsed from the sample files.</summary>
internal static class Lines
{
    /// <summary>2018-09-18T05:52:42Z, the router sample's era.</summary>
    public const long T0 = 1_537_249_962;

    public static Measurement Make(string node, long timestamp, double battery = 12.5, int? status = 0x902, int powerSave = 0) =>
        new(node, "1", timestamp, "ATmega8_A_1", 711, powerSave, 18.614, 18.614, battery, 100, 100, 28, 11.67, 14.086, 7, 20,
            52.507309, 13.458635, status);

    public static IReadOnlyList<Measurement> Sample(string file)
    {
        var parsed = LineParser.ParsePayload(Samples.Read(file), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Null(parsed.FirstRejection);
        return parsed.Lines;
    }
}
