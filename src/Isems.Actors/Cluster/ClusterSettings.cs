namespace Isems.Actors.Cluster;

/// <summary>
/// Where this member listens for the others and which members it joins through (SPEC §9): CLUSTER_HOSTNAME,
/// CLUSTER_PORT and CLUSTER_SEEDS. None of them set: no cluster, one process exactly as without them.
/// </summary>
public sealed record ClusterSettings(string Hostname, int Port, IReadOnlyList<(string Host, int Port)> Seeds)
{
    /// <summary>Akka's remoting port when only the host or the seeds are given.</summary>
    public const int DefaultPort = 4053;

    /// <summary>The actor system's name: part of every member's address, so every member must use the same.</summary>
    public const string SystemName = "isems";

    /// <summary>This member's address as the others see it (and as <c>GET /cluster</c> names it).</summary>
    public string SelfAddress => Address(Hostname, Port);

    /// <summary>The seed members' addresses; with none given, this member alone (it forms the cluster).</summary>
    public IReadOnlyList<string> SeedAddresses =>
        (Seeds.Count == 0 ? [(Hostname, Port)] : Seeds).Select(s => Address(s.Host, s.Port)).ToArray();

    public static string Address(string host, int port) => $"akka.tcp://{SystemName}@{host}:{port}";

    /// <summary>
    /// The three settings as given (null or blank: not set). Null when none is set. A port or seed that cannot be
    /// read throws a <see cref="FormatException"/> that names the setting and what to write instead.
    /// </summary>
    public static ClusterSettings? Parse(string? hostname, string? port, string? seeds)
    {
        if (string.IsNullOrWhiteSpace(hostname) && string.IsNullOrWhiteSpace(port) && string.IsNullOrWhiteSpace(seeds)) return null;
        var host = string.IsNullOrWhiteSpace(hostname) ? "127.0.0.1" : hostname.Trim();
        if (host.Contains(':') || host.Contains('/') || host.Contains(' '))
            throw new FormatException($"CLUSTER_HOSTNAME='{hostname}' is not a host name or IPv4 address (write it without scheme or port, e.g. 10.0.0.5)");
        var ownPort = string.IsNullOrWhiteSpace(port) ? DefaultPort : ParsePort(port.Trim(), $"CLUSTER_PORT='{port}'");
        var seedList = new List<(string, int)>();
        foreach (var seed in (seeds ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = seed.LastIndexOf(':');
            if (colon <= 0 || colon == seed.Length - 1 || seed.Contains('/'))
                throw new FormatException($"CLUSTER_SEEDS entry '{seed}' is not host:port (write e.g. 10.0.0.5:4053,10.0.0.6:4053)");
            seedList.Add((seed[..colon], ParsePort(seed[(colon + 1)..], $"CLUSTER_SEEDS entry '{seed}'")));
        }
        return new ClusterSettings(host, ownPort, seedList);
    }

    private static int ParsePort(string text, string what) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 65535
            ? p
            : throw new FormatException($"{what}: the port must be a number from 1 to 65535");
}
