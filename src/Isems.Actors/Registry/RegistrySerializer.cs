using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;

namespace Isems.Actors.Registry;

/// <summary>
/// Writes the registry's events and snapshots to the journal as plain JSON under a short manifest (the event's name),
/// instead of Akka's default serializer, which writes .NET type names and took 14 s for a merge of 100,000 nodes. The
/// manifests are the journal's format: a renamed event keeps its manifest here.
/// </summary>
public sealed class RegistrySerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka's serializer id for this one; fixed, as it is stored with every event.</summary>
    public const int SerializerId = 7301;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    private static readonly Dictionary<string, Type> Types = new(StringComparer.Ordinal)
    {
        ["NodeAdded"] = typeof(NodeAdded),
        ["NodeChanged"] = typeof(NodeChanged),
        ["NodeRemoved"] = typeof(NodeRemoved),
        ["ConfigurationMerged"] = typeof(ConfigurationMerged),
        ["NodeIdentified"] = typeof(NodeIdentified),
        ["RegistrySnapshot"] = typeof(RegistrySnapshot),
    };

    private static readonly Dictionary<Type, string> Manifests = Types.ToDictionary(kv => kv.Value, kv => kv.Key);

    public override int Identifier => SerializerId;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} is not a registry event or snapshot", nameof(o));

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        Types.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Json)!
            : throw new System.Runtime.Serialization.SerializationException($"Unknown node registry manifest '{manifest}'");
}
