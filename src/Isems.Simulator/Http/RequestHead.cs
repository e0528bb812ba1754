using System.Text;

namespace Isems.Simulator.Http;

/// <summary>The parts of an HTTP request a node looks at: method, path and the Range and Accept-Encoding headers.</summary>
internal sealed record RequestHead(string Method, string Path, string? Range, string? AcceptEncoding)
{
    /// <summary>Parses the request line and headers (everything before the blank line); null when it is not HTTP.</summary>
    public static RequestHead? Parse(ReadOnlySpan<byte> head)
    {
        // Latin-1 maps every byte to one char, so odd bytes in a header cannot make decoding fail.
        var lines = Encoding.Latin1.GetString(head).Split('\n');
        var requestLine = lines[0].TrimEnd('\r').Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/", StringComparison.Ordinal)) return null;

        string? range = null, acceptEncoding = null;
        foreach (var raw in lines.AsSpan(1))
        {
            var line = raw.TrimEnd('\r');
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Range", StringComparison.OrdinalIgnoreCase)) range = value;
            else if (name.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase)) acceptEncoding = value;
        }
        return new RequestHead(requestLine[0], PathOf(requestLine[1]), range, acceptEncoding);
    }

    /// <summary>Whether the client accepts a gzip body (<c>gzip</c> listed and not with <c>q=0</c>).</summary>
    public bool AcceptsGzip =>
        AcceptEncoding?.Split(',').Any(token =>
        {
            var parts = token.Split(';', StringSplitOptions.TrimEntries);
            return parts[0].Equals("gzip", StringComparison.OrdinalIgnoreCase)
                && !parts.Skip(1).Any(p => p.Replace(" ", "") is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
        }) == true;

    /// <summary>The path of an origin-form or absolute-form target, without query or fragment.</summary>
    private static string PathOf(string target)
    {
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(target, UriKind.Absolute, out var uri))
            return uri.AbsolutePath;
        var end = target.IndexOfAny(['?', '#']);
        return end < 0 ? target : target[..end];
    }
}
