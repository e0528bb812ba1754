using Isems.Simulator.Lines;

namespace Isems.Simulator;

/// <summary>Single measurement lines as simulated nodes log them, for tests that build payloads by hand.</summary>
public static class SimulatedLines
{
    /// <summary>A 19-field router line (firmware <c>ATmega8_A_1</c>), without line ending.</summary>
    public static string Router(string nodeId, long timestamp, int seed = 0) =>
        new LineFormatter(nodeId, NodeKind.Router, seed).ToString(timestamp);

    /// <summary>A 19-field ESP line (firmware <c>ESP_2.0</c>), without line ending.</summary>
    public static string Esp(string nodeId, long timestamp, int seed = 0) =>
        new LineFormatter(nodeId, NodeKind.Esp, seed).ToString(timestamp);

    /// <summary>What an ESP board serves before its first measurement (timestamp 0, all zeros).</summary>
    internal const string EspPlaceholder = "ESP32-Meshnode-Default;1;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0";
}
