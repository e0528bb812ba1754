namespace Isems.Actors.Mqtt;

// The MQTT bridge's messages. Pushed lines reach the node actors as IngestLines (Nodes/NodeMessages.cs).

/// <summary>Answered with the link's <see cref="MqttStatus"/>.</summary>
public sealed record GetMqttStatus;

public sealed record MqttStatus(
    string Broker,
    bool Connected,
    bool Degraded,
    DateTimeOffset? ConnectedSince,
    DateTimeOffset? LastMessage,
    long Messages,
    long Reconnects,
    string? LastError,
    IReadOnlyDictionary<string, long> Dropped,
    long TopicMismatches,
    int AwaitingCommit,
    int PeakAwaitingCommit,
    long Redelivered,
    long Acknowledged,
    int Unacknowledged,
    bool ReadingPaused);

/// <summary>
/// Publish <paramref name="Payload"/> retained at QoS 1 on <paramref name="Topic"/> through the broker link (an empty
/// payload clears the topic). Answered with <see cref="RetainedPublished"/> once the broker acknowledged it, else
/// <see cref="RetainedNotPublished"/> (link down, no acknowledgement within <see cref="MqttBridgeActor.PublishTimeout"/>).
/// </summary>
public sealed record PublishRetained(string Topic, byte[] Payload);

public sealed record RetainedPublished(string Topic);

public sealed record RetainedNotPublished(string Topic, string Reason);

/// <summary>Published on the event stream each time the broker link is up (again): what waited for it can go now.</summary>
public sealed record MqttLinkUp
{
    public static readonly MqttLinkUp Instance = new();
}
