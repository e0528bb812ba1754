using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Isems.Actors.Alerts;
using Isems.Actors.Nodes;
using Isems.Actors.Registry;
using Isems.Actors.Retention;
using Isems.LineFormat;

namespace Isems.Actors.Cluster;

/// <summary>
/// Every collector message that crosses from one member to another, as plain JSON under a short manifest (its type's
/// name), instead of Akka's default serializer (.NET type names, and a warning on every message). Bound to exactly
/// these types (<see cref="Types"/>), so a message left out fails loudly in the round-trip test rather than on the wire.
/// </summary>
public sealed class WireSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka's serializer id for this one: the same on every member.</summary>
    public const int SerializerId = 7302;

    /// <summary>What crosses between members: the node entities' messages and answers, the read models' changes, the
    /// registry singleton's questions and answers, retention's status, and the read models' resync.</summary>
    public static readonly IReadOnlyList<Type> Types =
    [
        // To a node entity (routed by the shard region), and its answers
        typeof(StartPolling), typeof(StopPolling), typeof(RetireNode), typeof(NodeRetired), typeof(IngestLines),
        typeof(LinesIngested), typeof(LinesNotIngested), typeof(PollNow), typeof(GetNodeStatus), typeof(NodeNotFound),
        typeof(PollOutcome), typeof(StopNode), typeof(MuteAlerts), typeof(NodeStatus),
        // What the entities publish to every member's read models
        typeof(LatestChanged), typeof(LatestRemoved), typeof(NodeStatusChanged), typeof(NodeStatusRemoved),
        // The node registry singleton: identity, recall, the admin API's changes and questions
        typeof(IdentifyNode), typeof(IdentityKept), typeof(RecallNode), typeof(AddNode), typeof(ChangeNode), typeof(RemoveNode),
        typeof(GetRegisteredNodes), typeof(GetRegisteredNode), typeof(RegistryEntry), typeof(RegistryEntries), typeof(RegistryRefusal),
        typeof(CountRegisteredNodes), typeof(RegisteredNodeCount),
        // The retention singleton
        typeof(GetRetentionStatus), typeof(RetentionStatus),
        // Members' read models catching up
        typeof(ResyncFleet), typeof(AlertSeen),
    ];

    private static readonly Dictionary<string, Type> ByManifest = Types.ToDictionary(t => t.Name, StringComparer.Ordinal);
    private static readonly Dictionary<Type, string> Manifests = Types.ToDictionary(t => t, t => t.Name);

    private readonly JsonSerializerOptions _json = Options(system);

    public override int Identifier => SerializerId;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} is not a collector message that crosses members", nameof(o));

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        ByManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, _json)!
            : throw new System.Runtime.Serialization.SerializationException($"Unknown collector message manifest '{manifest}'");

    private static JsonSerializerOptions Options(ExtendedActorSystem system) => new(JsonSerializerDefaults.General)
    {
        // The alerts' carried streaks are value tuples, whose items are fields.
        IncludeFields = true,
        Converters = { new ActorRefConverter(system), new RejectionCountsConverter(), new JsonStringEnumConverter() },
    };

    /// <summary>An actor reference as its full path with this member's address, resolved on the receiving member.</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);

        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Serialization.SerializedActorPath(value));
    }

    /// <summary>The counts by reason, in the reasons' order.</summary>
    private sealed class RejectionCountsConverter : JsonConverter<RejectionCounts>
    {
        public override RejectionCounts Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var counts = RejectionCounts.None;
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("rejection counts must be an array");
            var i = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var n = reader.GetInt32();
                if (i < RejectReasons.All.Count && n != 0) counts = counts.Add(RejectReasons.All[i], n);
                i++;
            }
            return counts;
        }

        public override void Write(Utf8JsonWriter writer, RejectionCounts value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (var reason in RejectReasons.All) writer.WriteNumberValue(value[reason]);
            writer.WriteEndArray();
        }
    }
}
