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
