using Isems.Dashboard.Client;

namespace Isems.Dashboard;

/// <summary>One node as the fleet table shows it: its health from <c>/nodes</c> and its newest row from <c>/measurements/latest</c>.</summary>
public sealed record FleetRow(string? NodeId, string Name, NodeHealth? Health, Measurement? Latest)
{
    /// <summary>The health state; a node that only pushes over MQTT is never polled, so it shows as pushing rather than "not polled yet".</summary>
    public string? State => Health is { State: "unknown", Url: null, LinesPushed: > 0 } ? "pushing" : Health?.State;

    public DateTimeOffset? LastSeen => Latest?.Timestamp;

    public IReadOnlyList<string> StatusWords => Health?.LatestStatusMeanings is { Count: > 0 } words ? words
        : Latest?.Status is { } status ? StatusText.Describe(status) : [];

    public bool Matches(string filter)
    {
        if (string.IsNullOrWhiteSpace(filter)) return true;
        var f = filter.Trim();
        return Name.Contains(f, StringComparison.OrdinalIgnoreCase)
               || (State ?? "").Contains(f, StringComparison.OrdinalIgnoreCase)
               || StatusWords.Any(w => w.Contains(f, StringComparison.OrdinalIgnoreCase))
               || (Health?.LastError ?? "").Contains(f, StringComparison.OrdinalIgnoreCase)
               || (Health?.Url ?? "").Contains(f, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Every node either source knows, once: polled nodes with their newest row, and nodes with data only.</summary>
    public static List<FleetRow> Join(IReadOnlyList<NodeHealth> nodes, IReadOnlyList<Measurement> latest)
    {
        var byId = latest.Where(m => m.NodeId is not null).GroupBy(m => m.NodeId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var rows = new List<FleetRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var name = node.NodeId ?? node.Url ?? "?";
            if (node.NodeId is not null && !seen.Add(node.NodeId)) continue;
            rows.Add(new FleetRow(node.NodeId, name, node, node.NodeId is null ? null : byId.GetValueOrDefault(node.NodeId)));
        }
        foreach (var (id, measurement) in byId)
            if (seen.Add(id)) rows.Add(new FleetRow(id, id, null, measurement));
        return rows;
    }
}
