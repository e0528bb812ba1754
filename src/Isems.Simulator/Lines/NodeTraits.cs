namespace Isems.Simulator.Lines;

/// <summary>
/// What makes one simulated node differ from another (location, battery, climate, phase of its weather), derived
/// deterministically from its id and a seed, so the same node always logs the same values for the same instant.
/// </summary>
internal readonly record struct NodeTraits(
    double Latitude,
    double Longitude,
    int BatteryCapacity,
    int ModuleWatts,
    double BaseTemperature,
    double ChargeOffset,
    double WeatherPhase)
{
    private static readonly (int Ah, int Watts)[] RouterKits = [(7, 20), (12, 30), (17, 50)];

    public static NodeTraits For(string nodeId, NodeKind kind, int seed)
    {
        // string.GetHashCode is randomised per process; the values must be stable across runs.
        var state = Fnv1a(nodeId) ^ (ulong)(uint)seed * 0x9E3779B97F4A7C15UL;
        var (ah, watts) = kind == NodeKind.Esp ? (12, 30) : RouterKits[(int)(Next(ref state) * RouterKits.Length)];
        return new NodeTraits(
            Latitude: 52.40 + Next(ref state) * 0.20,
            Longitude: 13.30 + Next(ref state) * 0.30,
            BatteryCapacity: ah,
            ModuleWatts: watts,
            BaseTemperature: 12 + Next(ref state) * 8,
            ChargeOffset: (Next(ref state) - 0.5) * 20,
            WeatherPhase: Next(ref state) * 2 * Math.PI);
    }

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>SplitMix64: a uniform double in [0, 1).</summary>
    private static double Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
