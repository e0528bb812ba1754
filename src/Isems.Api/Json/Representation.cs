using System.IO.Compression;
using System.IO.Hashing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace Isems.Api.Json;

/// <summary>
/// One version of a JSON answer: its bytes, a strong ETag derived from them, and its brotli and gzip forms, each
/// compressed the first time a client asks for it and kept with the version (not once per request). A mesh link then
/// carries a fifth of the bytes, or none when the client already has this version.
/// </summary>
public sealed class Representation(byte[] identity)
{
    private readonly Lock _gate = new();
    private byte[]? _brotli, _gzip;
    private string? _tag;

    public byte[] Identity { get; } = identity;

    /// <summary>
    /// The strong validator of the uncompressed bytes (96 bits of their XXH128 hash); each encoding's tag adds a suffix.
    /// A validator needs no cryptographic hash (no one gains by forging one of their own answers), and SHA-256 of a year
    /// of buckets (5 MiB) took a tenth of the answer's time; XXH128 takes a hundredth of that.
    /// </summary>
    public string Tag => _tag ??= "\"" + Convert.ToHexStringLower(XxHash128.Hash(Identity).AsSpan(0, 12)) + "\"";

    public byte[] Brotli
    {
        get
        {
            lock (_gate)
                return _brotli ??= Compress(Identity, stream => new BrotliStream(stream, new BrotliCompressionOptions { Quality = 5 }));
        }
    }

    public byte[] Gzip
    {
        get
        {
            lock (_gate)
                return _gzip ??= Compress(Identity, stream => new GZipStream(stream, CompressionLevel.Optimal));
        }
    }

    private static byte[] Compress(byte[] body, Func<Stream, Stream> compressor)
    {
        using var output = new MemoryStream(body.Length / 4 + 64);
        using (var stream = compressor(output)) stream.Write(body);
        return output.ToArray();
    }

    private const string JsonContentType = "application/json; charset=utf-8";

    /// <summary>
    /// The answer to a GET of this version: <c>304</c> when <c>If-None-Match</c> names it, else its bytes in the best
    /// encoding the client accepts (brotli before gzip), or exactly the uncompressed bytes when it sends neither header.
    /// </summary>
    public IActionResult Serve(ControllerBase controller)
    {
        var request = controller.Request;
        var response = controller.Response;
        var encoding = Negotiate(request);
        var tag = encoding switch
        {
            "br" => Tag[..^1] + "-br\"",
            "gzip" => Tag[..^1] + "-gz\"",
            _ => Tag,
        };
        response.Headers.CacheControl = "no-cache";
        response.Headers.Vary = "Accept-Encoding";
        response.Headers.ETag = tag;
        if (Matches(request, Tag))
            return new StatusCodeResult(StatusCodes.Status304NotModified);
        if (encoding is null) return new FileContentResult(Identity, JsonContentType);
        response.Headers.ContentEncoding = encoding;
        return new FileContentResult(encoding == "br" ? Brotli : Gzip, JsonContentType);
    }

    /// <summary>Whether If-None-Match names this version in any encoding (weak comparison, as RFC 9110 asks for it).</summary>
    private static bool Matches(HttpRequest request, string identityTag)
    {
        var header = request.Headers.IfNoneMatch;
        if (header.Count == 0) return false;
        var core = identityTag[1..^1];
        foreach (var value in header)
        {
            if (value is null) continue;
            foreach (var raw in value.Split(','))
            {
                var candidate = raw.Trim();
                if (candidate == "*") return true;
                if (candidate.StartsWith("W/", StringComparison.Ordinal)) candidate = candidate[2..];
                if (candidate.Length < 2 || candidate[0] != '"' || candidate[^1] != '"') continue;
                var inner = candidate[1..^1];
                if (inner == core || inner == core + "-br" || inner == core + "-gz") return true;
            }
        }
        return false;
    }

    /// <summary>br or gzip, whichever the client accepts with the higher weight (br on a tie); null for neither.</summary>
    private static string? Negotiate(HttpRequest request)
    {
        if (request.Headers.AcceptEncoding.Count == 0) return null;
        double br = 0, gzip = 0, any = -1;
        foreach (var value in request.Headers.AcceptEncoding)
        {
            if (value is null) continue;
            if (!StringWithQualityHeaderValue.TryParseList(value.Split(','), out var list)) continue;
            foreach (var item in list)
            {
                var q = item.Quality ?? 1;
                var name = item.Value.Value;
                if (string.Equals(name, "br", StringComparison.OrdinalIgnoreCase)) br = q;
                else if (string.Equals(name, "gzip", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "x-gzip", StringComparison.OrdinalIgnoreCase)) gzip = q;
                else if (name == "*") any = q;
            }
        }
        if (any >= 0)
        {
            if (br == 0 && !Named(request, "br")) br = any;
            if (gzip == 0 && !Named(request, "gzip")) gzip = any;
        }
        if (br <= 0 && gzip <= 0) return null;
        return br >= gzip ? "br" : "gzip";
    }

    private static bool Named(HttpRequest request, string coding) =>
        request.Headers.AcceptEncoding.Any(v => v is not null && v.Contains(coding, StringComparison.OrdinalIgnoreCase));
}
