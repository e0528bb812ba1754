using Isems.Actors.Polling;

namespace Isems.Server.Configuration;

/// <summary>Turns the entries of ISEMS_ROUTER_IPS into log URLs (SPEC §2).</summary>
public static class NodeAddresses
{
    /// <summary>
    /// Comma-separated entries, each read by <see cref="NodeAddress.TryParse"/>; repeats count once. Throws
    /// <see cref="FormatException"/> naming the entry that is not usable.
    /// </summary>
    public static IReadOnlyList<Uri> Parse(string? entries)
    {
        var urls = new List<Uri>();
        var seen = new HashSet<Uri>();
        foreach (var raw in (entries ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!NodeAddress.TryParse(raw, out var url))
                throw new FormatException(
                    $"ISEMS_ROUTER_IPS entry '{raw}' is not an IP, host, host:port or http(s) URL (example: 10.36.158.33,http://node.local/ISEMS/ffopenmppt.log).");
            if (seen.Add(url)) urls.Add(url);
        }
        return urls;
    }
}
