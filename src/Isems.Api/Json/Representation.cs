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
public sealed class Representation
{
    private readonly Lock _gate = new();
    private readonly byte[]? _whole;
    private readonly IReadOnlyList<ReadOnlyMemory<byte>> _pieces;
    private byte[]? _brotli, _gzip;
    private string? _tag;

    public Representation(byte[] identity)
    {
        _whole = identity;
        _pieces = [identity];
        Length = identity.Length;
    }

    /// <summary>
    /// The uncompressed bytes as the pieces they were written in, kept as they are (a year of buckets is 5.4 MiB,
    /// written in chunks and in two halves at once; joining them was a copy of the whole body per answer).
    /// </summary>
    public Representation(IReadOnlyList<ReadOnlyMemory<byte>> pieces)
    {
        _pieces = pieces;
        foreach (var piece in pieces) Length += piece.Length;
    }

    /// <summary>How many bytes the uncompressed answer has.</summary>
    public long Length { get; }

    /// <summary>The uncompressed bytes in one array (tests, and callers that need them whole).</summary>
    public byte[] ToArray()
    {
        if (_whole is not null) return _whole;
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)Length));
        var at = 0;
        foreach (var piece in _pieces)
        {
            piece.Span.CopyTo(bytes.AsSpan(at));
            at += piece.Length;
        }
        return bytes;
    }

    /// <summary>
    /// The strong validator of the uncompressed bytes (96 bits of their XXH128 hash); each encoding's tag adds a suffix.
    /// A validator needs no cryptographic hash (no one gains by forging one of their own answers), and SHA-256 of a year
    /// of buckets (5 MiB) took a tenth of the answer's time; XXH128 takes a hundredth of that. Hashed piece by piece,
    /// which gives the hash of the whole.
    /// </summary>
    public string Tag => _tag ??= "\"" + Convert.ToHexStringLower(Hash().AsSpan(0, 12)) + "\"";

    private byte[] Hash()
    {
        if (_whole is not null) return XxHash128.Hash(_whole);
        var hash = new XxHash128();
        foreach (var piece in _pieces) hash.Append(piece.Span);
        return hash.GetCurrentHash();
    }

    public byte[] Brotli
    {
        get
        {
            lock (_gate)
                return _brotli ??= Compress(stream => new BrotliStream(stream, new BrotliCompressionOptions { Quality = 5 }));
        }
    }

    public byte[] Gzip
    {
        get
        {
            lock (_gate)
                return _gzip ??= Compress(stream => new GZipStream(stream, CompressionLevel.Optimal));
        }
    }

    private byte[] Compress(Func<Stream, Stream> compressor)
    {
        using var output = new MemoryStream((int)(Length / 4) + 64);
        using (var stream = compressor(output))
            foreach (var piece in _pieces)
                stream.Write(piece.Span);
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
        if (encoding is null)
            return _whole is not null ? new FileContentResult(_whole, JsonContentType) : new PiecesResult(_pieces, Length);
        response.Headers.ContentEncoding = encoding;
        return new FileContentResult(encoding == "br" ? Brotli : Gzip, JsonContentType);
    }

    /// <summary>The uncompressed pieces written one after the other, with their total length (as FileContentResult writes one array).</summary>
    private sealed class PiecesResult(IReadOnlyList<ReadOnlyMemory<byte>> pieces, long length) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var response = context.HttpContext.Response;
            response.ContentType = JsonContentType;
            response.ContentLength = length;
            var aborted = context.HttpContext.RequestAborted;
            foreach (var piece in pieces) await response.Body.WriteAsync(piece, aborted);
        }
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
