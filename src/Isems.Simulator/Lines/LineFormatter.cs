using System.Text;

namespace Isems.Simulator.Lines;

/// <summary>
/// Writes one node's measurement lines as UTF-8, straight into the caller's buffer, in the exact shapes real nodes
/// log (SPEC §1 and the samples): routers with up to three decimals and an integer temperature, ESP boards with two.
/// </summary>
internal sealed class LineFormatter(string nodeId, NodeKind kind, int seed = 0)
{
    private readonly NodeTraits _traits = NodeTraits.For(nodeId, kind, seed);
    private readonly byte[] _nodeId = Encoding.UTF8.GetBytes(nodeId);

    /// <summary>A buffer of this many bytes holds any line of this node.</summary>
    public int MaxLineBytes => _nodeId.Length + 256;

    /// <summary>Writes a valid line; returns the bytes written.</summary>
    public int Write(Span<byte> destination, long timestamp) => Write(destination, timestamp, brokenNumber: false);

    /// <summary>
    /// Writes a line a collector must reject, of the two kinds seen in the field: a line cut short (a log written
    /// while the power failed) and a field that is not a number (a sensor read error).
    /// </summary>
    public int WriteGarbage(Span<byte> destination, long timestamp, int variant)
    {
        if (variant % 2 != 0) return Write(destination, timestamp, brokenNumber: true);
        var line = Start(destination, timestamp);
        line.Raw(";0;0;"u8);
        line.Fixed(SolarModel.At(_traits, timestamp).OpenCircuitVoltage, 3, trimZeros: true);
        return line.Length;
    }

    public string ToString(long timestamp)
    {
        var buffer = new byte[MaxLineBytes];
        return Encoding.UTF8.GetString(buffer, 0, Write(buffer, timestamp));
    }

    private int Write(Span<byte> destination, long timestamp, bool brokenNumber)
    {
        var r = SolarModel.At(_traits, timestamp);
        var router = kind == NodeKind.Router;
        // Routers print what the controller reports, up to three decimals; ESP firmware prints two, always.
        var decimals = router ? 3 : 2;
        var line = Start(destination, timestamp);
        line.Separator();
        line.Integer(router ? 0 : r.TimeToShutdown);
        line.Separator();
        line.Integer(r.PowerSaveLevel);
        line.Separator();
        line.Fixed(r.OpenCircuitVoltage, decimals, router);
        line.Separator();
        line.Fixed(r.MppVoltage, decimals, router);
        line.Separator();
        if (brokenNumber) line.Raw("n/a"u8);
        else line.Fixed(r.BatteryVoltage, decimals, router);
        line.Separator();
        line.Integer(r.ChargeEstimate);
        line.Raw(";100;"u8);
        if (router) line.Integer(Math.Max(0, (long)Math.Round(r.Temperature)));
        else line.Fixed(r.Temperature, 2);
        line.Raw(router ? ";11.7;14.2;"u8 : ";11.90;14.20;"u8);
        line.Integer(_traits.BatteryCapacity);
        line.Separator();
        line.Integer(_traits.ModuleWatts);
        line.Separator();
        line.Fixed(_traits.Latitude, router ? 6 : 4);
        line.Separator();
        line.Fixed(_traits.Longitude, router ? 6 : 4);
        line.Separator();
        line.Hex3(r.Status);
        return line.Length;
    }

    /// <summary>Node id, revision, timestamp, firmware.</summary>
    private Utf8LineWriter Start(Span<byte> destination, long timestamp)
    {
        var line = new Utf8LineWriter(destination);
        line.Raw(_nodeId);
        line.Raw(";1;"u8);
        line.Integer(timestamp);
        line.Raw(kind == NodeKind.Router ? ";ATmega8_A_1"u8 : ";ESP_2.0"u8);
        return line;
    }
}
