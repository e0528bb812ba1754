namespace Isems.Actors.Mqtt;

/// <summary>The broker link's settings, built once from configuration (MQTT_*) and passed down.</summary>
public sealed record MqttOptions
{
    public required string Server { get; init; }
    public int Port { get; init; } = 1883;
    public string? Username { get; init; }
    public string? Password { get; init; }
    public bool Tls { get; init; }

    /// <summary>With TLS: a PEM or DER file of the CA that signed the broker's certificate, trusted instead of the system's store.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>
    /// Subscribed with QoS 1; the node id is the segment before the last one (<c>/isems/&lt;nodeId&gt;/csvlog</c>).
    /// Topics ending in <c>/data.json</c> carry the JSON variant.
    /// </summary>
    public IReadOnlyList<string> Topics { get; init; } = ["/isems/+/csvlog", "isems/+/csvlog", "/isems/+/data.json", "isems/+/data.json"];

    /// <summary>Fixed, with a persistent session: what nodes publish while the collector is away waits at the broker.</summary>
    public string ClientId { get; init; } = $"isems-collector-{Environment.MachineName}";

    public TimeSpan MinReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a connected link is pinged, to notice a half-open connection.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A connected link silent this long is reported as degraded.</summary>
    public TimeSpan Silence { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Larger payloads are dropped (counted and acknowledged): a node sends at most 5 lines.</summary>
    public int MaxPayloadBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// The most messages awaiting commit at once: the bridge stops reading from the broker at this many and reads on
    /// at half of it, so a backlog of any size drains in bounded memory. Also sent as MQTT 5's receive maximum (the
    /// broker's side of the same bound, where it honours it). Measured on a 2-core machine: 8,000 drains a backlog
    /// about a third faster than 2,000 for 20 MiB more; at 5 lines a message it stays far below the writer's
    /// 200,000-line buffer.
    /// </summary>
    public ushort MaxAwaitingCommit { get; init; } = 8000;

    /// <summary>How long to wait before offering again lines the writer could not take.</summary>
    public TimeSpan IngestRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// In a cluster, lines sent to a node whose member died on the way get no answer at all: they are offered again
    /// after this, until answered (storing is idempotent on node and timestamp, so a late first answer costs a
    /// duplicate count, never a row). Null in one process, where a node's actor always answers.
    /// </summary>
    public TimeSpan? ResendUnansweredAfter { get; init; }

    public int JitterSeed { get; init; } = Environment.TickCount;
}
