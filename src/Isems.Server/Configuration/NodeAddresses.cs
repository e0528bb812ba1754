namespace Isems.Server.Configuration;

/// <summary>Turns the entries of ISEMS_ROUTER_IPS into log URLs (SPEC §2).</summary>
public static class NodeAddresses
{
    /// <summary>Where a router serves its log when an entry gives only its address.</summary>
    public const string DefaultLogPath = "/ISEMS/ffopenmppt.log";

    /// <summary>
    /// <c>10.36.158.33</c> and <c>host:8080</c> mean <c>http://&lt;entry&gt;/ISEMS/ffopenmppt.log</c>; full http(s) URLs are
    /// taken as they are. Throws <see cref="FormatException"/> naming the entry that is not usable.
    /// </summary>
    public static IReadOnlyList<Uri> Parse(string? entries)
    {
        var urls = new List<Uri>();
        foreach (var raw in (entries ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var text = raw.Contains("://", StringComparison.Ordinal) ? raw : $"http://{raw}{DefaultLogPath}";
            if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
                throw new FormatException(
                    $"ISEMS_ROUTER_IPS entry '{raw}' is not an IP, host, host:port or http(s) URL (example: 10.36.158.33,http://node.local/ISEMS/ffopenmppt.log).");
            if (!urls.Contains(url)) urls.Add(url);
        }
        return urls;
    }
}
