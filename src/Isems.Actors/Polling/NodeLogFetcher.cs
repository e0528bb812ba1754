using System.IO.Compression;
using System.Security.Cryptography;
using System.Net;
using System.Net.Http.Headers;

namespace Isems.Actors.Polling;

/// <summary>What one fetch of a node's log brought.</summary>
public abstract record FetchResult
{
    /// <summary>Bytes received on the wire for this fetch, over all its requests (compressed size when gzipped).</summary>
    public long WireBytes { get; init; }
}

/// <summary>
/// How far into a node's log the lines are stored: the byte after the last complete line read, when the log was last
/// read whole a hash of the bytes before that point, and a hash of the last line read with its length.
/// </summary>
/// <param name="Resumed">
/// Read back from the database after a start: the log may have been rotated and grown past this point meanwhile, and
/// its lines are of much the same length, so the next fetch checks the whole last line, not only its <c>\n</c>.
/// </param>
public sealed record LogPosition(long Offset, byte[]? PrefixHash, byte[]? TailHash = null, int TailLength = 0, bool Resumed = false)
{
    public static readonly LogPosition Start = new(0, null);
}

/// <summary>New log content: complete lines to parse, and where the next fetch continues.</summary>
/// <param name="Content">The bytes to parse: whole lines only, except the last line of a bare answer without length (an ESP's).</param>
/// <param name="Next">The position after the last complete line; the next fetch asks for what follows it.</param>
/// <param name="FromStart">The content is the node's whole log (first fetch, or the log was rotated or rewritten).</param>
public sealed record LogFetched(ReadOnlyMemory<byte> Content, LogPosition Next, bool FromStart) : FetchResult;

/// <summary>The node answered 404: a router's log has been rotated away until its next line (SPEC §2).</summary>
public sealed record LogMissing : FetchResult;

/// <summary>The fetch failed: timeout, refused, reset, an HTTP error or an answer that is not HTTP.</summary>
public sealed record FetchFailed(string Error) : FetchResult;

/// <summary>
/// Fetches a node's log frugally: only what is new since <c>offset</c>, through an HTTP <c>Range</c> request that
/// starts one byte early so the answer must begin with the <c>\n</c> ending the last line already read; anything else
/// means the log was rotated or rewritten, and the whole log is fetched instead. Full fetches accept gzip (ranges of a
/// gzipped body would count compressed bytes, so a range request never asks for it). A node that ignores <c>Range</c>
/// sends its whole log each time; when the part already read is unchanged (same hash), only what follows it is
/// parsed, so a steady fleet of such nodes costs transfer, not parsing and duplicate inserts. Never throws for a node's
/// behaviour: every failure becomes a <see cref="FetchFailed"/> in words an operator understands.
/// </summary>
public sealed class NodeLogFetcher(HttpClient http, int maxLogBytes)
{
    public static NodeLogFetcher Create(PollingOptions options) => new(CreateHttpClient(), options.MaxLogBytes);

    /// <summary>An HTTP client for polling: no cookies, no pooled connections kept for long, no automatic decompression (bytes are counted as sent).</summary>
    public static HttpClient CreateHttpClient() => new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(20),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    public async Task<FetchResult> FetchAsync(Uri url, LogPosition position, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var offset = position.Offset;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        long wire = 0;
        try
        {
            if (offset > 0)
            {
                // Asked from one byte early (the last line's \n), or for a resumed position from the start of the last line.
                var overlap = position is { Resumed: true, TailHash: not null } && position.TailLength <= offset ? position.TailLength : 1;
                var partial = await GetAsync(url, offset - overlap, cts.Token);
                wire += partial.WireBytes;
                switch (partial.Status)
                {
                    case HttpStatusCode.PartialContent when Continues(partial.Body, overlap, position):
                        return Partial(partial.Body.AsMemory(overlap), position) with { WireBytes = wire };
                    case HttpStatusCode.OK:
                        return Whole(partial.Body, partial.HasLength, position) with { WireBytes = wire };
                    case HttpStatusCode.NotFound:
                        return new LogMissing { WireBytes = wire };
                    case HttpStatusCode.PartialContent or HttpStatusCode.RequestedRangeNotSatisfiable:
                        break; // rotated or rewritten: start over below
                    default:
                        return new FetchFailed(Describe(partial.Status)) { WireBytes = wire };
                }
            }

            var whole = await GetAsync(url, rangeFrom: null, cts.Token);
            wire += whole.WireBytes;
            return whole.Status switch
            {
                HttpStatusCode.OK => Whole(whole.Body, whole.HasLength, LogPosition.Start) with { WireBytes = wire },
                HttpStatusCode.NotFound => new LogMissing { WireBytes = wire },
                _ => new FetchFailed(Describe(whole.Status)) { WireBytes = wire },
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new FetchFailed($"timed out after {timeout.TotalSeconds:0.#} s") { WireBytes = wire };
        }
        catch (HttpRequestException e)
        {
            return new FetchFailed(Describe(e)) { WireBytes = wire };
        }
        catch (Exception e) when (e is IOException or InvalidDataException or LogTooLargeException)
        {
            return new FetchFailed(e.Message) { WireBytes = wire };
        }
    }

    /// <summary>Whether a range answer begins with what was read last: the last line's <c>\n</c>, or the whole last line.</summary>
    private static bool Continues(byte[] body, int overlap, LogPosition known) =>
        body.Length >= overlap && (overlap == 1
            ? body[0] == (byte)'\n'
            : SHA256.HashData(body.AsSpan(0, overlap)).AsSpan().SequenceEqual(known.TailHash));

    /// <summary>A range answer that starts where the last complete line ended: its complete lines are all new.</summary>
    private static LogFetched Partial(ReadOnlyMemory<byte> body, LogPosition known)
    {
        var complete = body.Span.LastIndexOf((byte)'\n') + 1;
        var next = complete == 0
            ? known with { PrefixHash = null, Resumed = false }
            : WithTail(new LogPosition(known.Offset + complete, null), body.Span[..complete]);
        return new LogFetched(body[..complete], next, FromStart: false);
    }

    /// <summary>The position with the hash and length of the last complete line of <paramref name="complete"/>.</summary>
    private static LogPosition WithTail(LogPosition position, ReadOnlySpan<byte> complete)
    {
        if (complete.IsEmpty) return position;
        var line = complete[(complete[..^1].LastIndexOf((byte)'\n') + 1)..];
        return position with { TailHash = SHA256.HashData(line), TailLength = line.Length };
    }

    /// <summary>
    /// The whole log. A trailing line without <c>\n</c> is still being written on a router (whose answers carry a
    /// length), so it is left for the next fetch; an ESP's bare answer (no length) ends its last line without one.
    /// When the log still begins with the bytes already read, only what follows them is new.
    /// </summary>
    private static LogFetched Whole(byte[] body, bool hasLength, LogPosition known)
    {
        var complete = body.AsSpan().LastIndexOf((byte)'\n') + 1;
        var end = hasLength ? complete : body.Length;
        var next = WithTail(new LogPosition(complete, SHA256.HashData(body.AsSpan(0, complete))), body.AsSpan(0, complete));
        var unchangedPrefix = known.PrefixHash is not null && known.Offset <= complete
            && SHA256.HashData(body.AsSpan(0, (int)known.Offset)).AsSpan().SequenceEqual(known.PrefixHash);
        return unchangedPrefix
            ? new LogFetched(body.AsMemory((int)known.Offset..end), next, FromStart: false)
            : new LogFetched(body.AsMemory(..end), next, FromStart: true);
    }

    private sealed record Answer(HttpStatusCode Status, byte[] Body, long WireBytes, bool HasLength);

    private async Task<Answer> GetAsync(Uri url, long? rangeFrom, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (rangeFrom is { } from)
            request.Headers.Range = new RangeHeaderValue(from, null);
        else
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.PartialContent))
            return new Answer(response.StatusCode, [], 0, true);

        var length = response.Content.Headers.ContentLength;
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var raw = await ReadBoundedAsync(stream, length, ct);
        var gzipped = response.Content.Headers.ContentEncoding.Contains("gzip", StringComparer.OrdinalIgnoreCase);
        var body = gzipped ? await GunzipAsync(raw, ct) : raw;
        var hasLength = length is not null;
        return new Answer(response.StatusCode, body, raw.Length, hasLength);
    }

    private async Task<byte[]> ReadBoundedAsync(Stream stream, long? length, CancellationToken ct)
    {
        if (length > maxLogBytes) throw new LogTooLargeException(maxLogBytes);
        if (length is { } announced)
        {
            // The usual answer: read straight into an array of its size (a full log is half a megabyte, and copying it
            // between growing buffers cost a twentieth of a first poll cycle). A shorter answer fails the read.
            var body = new byte[announced];
            await stream.ReadExactlyAsync(body, ct);
            return body;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxLogBytes) throw new LogTooLargeException(maxLogBytes);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private async Task<byte[]> GunzipAsync(byte[] raw, CancellationToken ct)
    {
        await using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
        return await ReadBoundedAsync(gzip, length: null, ct);
    }

    private static string Describe(HttpStatusCode status) => $"HTTP {(int)status} {status}";

    private static string Describe(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => $"connection failed: {e.InnerException?.Message ?? e.Message}",
        HttpRequestError.InvalidResponse => "the answer is not valid HTTP",
        HttpRequestError.ResponseEnded => "the connection was closed before the answer was complete",
        HttpRequestError.NameResolutionError => $"host not found: {e.Message}",
        _ => e.InnerException?.Message ?? e.Message,
    };

    private sealed class LogTooLargeException(int limit) : Exception($"the log is larger than {limit / 1024} KiB");
}
