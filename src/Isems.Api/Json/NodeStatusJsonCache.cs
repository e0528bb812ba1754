using System.Text.Json;
using Isems.Actors.Nodes;

namespace Isems.Api.Json;

/// <summary>
/// The body of <c>/nodes</c>, built once per version of the fleet's status (which moves on with every node's change)
/// rather than once per request.
/// </summary>
public sealed class NodeStatusJsonCache
{
    private sealed record Entry(long Version, byte[] Body);

    private Entry? _cached;

    public byte[] Body(FleetStatus fleet, JsonSerializerOptions options)
    {
        var cached = Volatile.Read(ref _cached);
        if (cached is not null && cached.Version == fleet.Version) return cached.Body;
        var body = JsonSerializer.SerializeToUtf8Bytes(new NodeStatusList(fleet.Nodes.Select(NodeStatusJson.From).ToList()), options);
        Volatile.Write(ref _cached, new Entry(fleet.Version, body));
        return body;
    }
}
