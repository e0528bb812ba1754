namespace Isems.Simulator.Http;

/// <summary>A single byte range of a Range header, resolved against the length of the content.</summary>
internal readonly record struct ByteRange(int Start, int Length)
{
    /// <summary>
    /// Resolves <c>bytes=N-</c>, <c>bytes=N-M</c> and <c>bytes=-K</c>. Returns false for a header to ignore (absent,
    /// malformed, several ranges: RFC 9110 lets a server answer those with the whole content); <paramref name="range"/>
    /// is null when the range is well-formed but not satisfiable (416).
    /// </summary>
    public static bool TryResolve(string? header, int total, out ByteRange? range)
    {
        range = null;
        if (header is null || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return false;
        var spec = header["bytes=".Length..].Trim();
        if (spec.Contains(',')) return false;
        var dash = spec.IndexOf('-');
        if (dash < 0) return false;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();

        if (first.Length == 0)
        {
            if (!long.TryParse(last, out var suffix) || suffix < 0) return false;
            if (suffix > 0 && total > 0) range = new ByteRange((int)Math.Max(0, total - suffix), (int)Math.Min(suffix, total));
            return true;
        }
        if (!long.TryParse(first, out var start) || start < 0) return false;
        var end = (long)total - 1;
        if (last.Length > 0)
        {
            if (!long.TryParse(last, out var requestedEnd) || requestedEnd < start) return false;
            end = Math.Min(end, requestedEnd);
        }
        if (start < total) range = new ByteRange((int)start, (int)(end - start + 1));
        return true;
    }
}
