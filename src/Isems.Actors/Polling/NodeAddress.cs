namespace Isems.Actors.Polling;

/// <summary>Where a node serves its log, from what an operator writes (SPEC §2).</summary>
public static class NodeAddress
{
    /// <summary>Where a router serves its log when only its address is given.</summary>
    public const string DefaultLogPath = "/ISEMS/ffopenmppt.log";

    /// <summary>
    /// <c>10.36.158.33</c> and <c>host:8080</c> mean <c>http://&lt;entry&gt;/ISEMS/ffopenmppt.log</c>; full http(s) URLs are
    /// taken as they are. Anything else (another scheme, no host) is refused.
    /// </summary>
    public static bool TryParse(string entry, out Uri logUrl)
    {
        logUrl = null!;
        entry = entry.Trim();
        if (entry.Length == 0) return false;
        var text = entry.Contains("://", StringComparison.Ordinal) ? entry : $"http://{entry}{DefaultLogPath}";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
            return false;
        logUrl = url;
        return true;
    }
}
