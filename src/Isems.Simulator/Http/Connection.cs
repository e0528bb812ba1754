using System.Net.Sockets;

namespace Isems.Simulator.Http;

/// <summary>
/// One accepted connection: reads one request, answers it as the addressed node would (or misbehaves as its fault
/// says), then closes. Written on a bare socket because nodes send what a web framework will not: HTTP/1.0 bodies
/// ended by the close, resets, garbage, silence.
/// </summary>
internal sealed class Connection(Socket socket, SimulatedFleet fleet, CancellationToken stopping)
{
    private const int MaxHeadBytes = 16 * 1024;

    /// <summary>Bodies up to this size go out in the same write as the head.</summary>
    private const int CoalesceBytes = 16 * 1024;

    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);
    private static readonly byte[] ServerErrorBody = "simulated server error\n"u8.ToArray();
    private static readonly byte[] NotFoundBody = "Not Found\n"u8.ToArray();
    private static readonly byte[] Garbage = [0x16, 0x03, 0x01, 0x00, 0xff, .. "\u00fe\u00ffnot http at all\r\n\r\n"u8];

    private Task? _clientClosed;

    /// <summary>Closes the socket from outside, failing whatever the connection is waiting for.</summary>
    public void Abort() => socket.Dispose();

    public async Task RunAsync()
    {
        try
        {
            socket.NoDelay = true;
            var (head, complete) = await ReadHeadAsync();
            if (!complete) return;
            fleet.CountRequest();
            if (head is null)
            {
                await SendAsync(ResponseHead.Http11(400, "Bad Request", "text/plain", 12), "bad request\n"u8.ToArray(), node: null);
                return;
            }

            var (nodeId, rest) = SplitPath(head.Path);
            if (nodeId is null || !fleet.TryGetNode(nodeId, out var node))
            {
                await NotFoundAsync(null);
                return;
            }
            node.CountRequest();
            fleet.OnNodeRequested(node, socket.RemoteEndPoint);
            await ServeAsync(node, head, rest);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            // The client went away, or the fleet is shutting down: nothing left to answer.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private async Task ServeAsync(SimulatedNode node, RequestHead head, string? rest)
    {
        switch (await FaultAfterHangingAsync(node))
        {
            case null:
                return;
            case NodeFault.ServerError:
                await SendAsync(ResponseHead.Http11(500, "Internal Server Error", "text/plain", ServerErrorBody.Length), ServerErrorBody, node);
                return;
            case NodeFault.Reset:
                // Linger 0 makes the close send RST instead of FIN: the client sees "connection reset by peer".
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
                return;
            case NodeFault.GarbageResponse:
                await SendAllAsync(Garbage);
                await CloseGracefullyAsync();
                return;
            case NodeFault.NotFound:
                await NotFoundAsync(node);
                return;
        }

        if (head.Method is not ("GET" or "HEAD"))
        {
            var body = "only GET and HEAD\n"u8.ToArray();
            await SendAsync(ResponseHead.Http11(405, "Method Not Allowed", "text/plain", body.Length).With("Allow", "GET, HEAD"), body, node);
            return;
        }
        var headOnly = head.Method == "HEAD";
        if (node.Kind == NodeKind.Router) await ServeRouterLogAsync(node, head, rest, headOnly);
        else await ServeEspLinesAsync(node, head, rest, headOnly);
    }

    private async Task ServeRouterLogAsync(SimulatedNode node, RequestHead head, string? rest, bool headOnly)
    {
        var content = node.Content();
        if (rest != "ISEMS/ffopenmppt.log" || content.IsEmpty)
        {
            await NotFoundAsync(node);
            return;
        }

        var total = content.Length;
        if (node.HonorRange && ByteRange.TryResolve(head.Range, total, out var range))
        {
            if (range is not { } r)
            {
                var unsatisfiable = ResponseHead.Http11(416, "Range Not Satisfiable", "text/plain", 0).With("Content-Range", $"bytes */{total}");
                await SendAsync(unsatisfiable, ReadOnlyMemory<byte>.Empty, node);
                return;
            }
            var partial = ResponseHead.Http11(206, "Partial Content", "text/plain", r.Length)
                .With("Content-Range", $"bytes {r.Start}-{r.Start + r.Length - 1}/{total}")
                .With("Accept-Ranges", "bytes");
            await SendAsync(partial, headOnly ? default : content.Slice(r.Start, r.Length), node);
            return;
        }

        var gzip = node.Gzip && head.AcceptsGzip;
        var body = gzip ? node.Gzipped(content) : content;
        var full = ResponseHead.Http11(200, "OK", "text/plain", body.Length);
        if (node.HonorRange) full.With("Accept-Ranges", "bytes");
        if (gzip) full.With("Content-Encoding", "gzip");
        await SendAsync(full, headOnly ? default : body, node);
    }

    private async Task ServeEspLinesAsync(SimulatedNode node, RequestHead head, string? rest, bool headOnly)
    {
        if (rest is null || !rest.Contains(".log", StringComparison.Ordinal))
        {
            var missing = "Not found\n"u8.ToArray();
            await SendAsync(new ResponseHead("HTTP/1.0", 404, "Not Found").With("Content-Type", "text/html"), missing, node);
            return;
        }
        // The ESP firmware's web server: HTTP/1.0, no length, the close ends the body.
        var content = node.Content();
        var gzip = node.Gzip && head.AcceptsGzip;
        var answer = new ResponseHead("HTTP/1.0", 200, "OK").With("Content-Type", "text/html");
        if (gzip) answer.With("Content-Encoding", "gzip");
        await SendAsync(answer, headOnly ? default : gzip ? node.Gzipped(content) : content, node);
    }

    private Task NotFoundAsync(SimulatedNode? node) =>
        SendAsync(ResponseHead.Http11(404, "Not Found", "text/plain", NotFoundBody.Length), NotFoundBody, node);

    /// <summary>
    /// While the node hangs, waits without answering; returns the fault to apply once it no longer hangs, or null
    /// when the client gave up or the fleet stopped first.
    /// </summary>
    private async Task<NodeFault?> FaultAfterHangingAsync(SimulatedNode node)
    {
        while (true)
        {
            var changed = node.FaultChanged;
            var fault = node.Fault;
            if (fault != NodeFault.Hang) return fault;
            var woke = await Task.WhenAny(changed, ClientClosed, fleet.Stopped);
            if (woke != changed) return null;
        }
    }

    private async Task SendAsync(ResponseHead head, ReadOnlyMemory<byte> body, SimulatedNode? node)
    {
        var headBytes = head.ToBytes();
        if (body.Length <= CoalesceBytes)
        {
            var whole = new byte[headBytes.Length + body.Length];
            headBytes.CopyTo(whole, 0);
            body.CopyTo(whole.AsMemory(headBytes.Length));
            await SendAllAsync(whole);
        }
        else
        {
            await SendAllAsync(headBytes);
            await SendAllAsync(body);
        }
        fleet.CountBytes(body.Length);
        node?.CountBytes(body.Length);
        await CloseGracefullyAsync();
    }

    private async Task SendAllAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None, stopping);
            bytes = bytes[sent..];
        }
    }

    /// <summary>
    /// Sends FIN, then waits briefly for the client to close: closing with unread input would send RST, and a
    /// reset can destroy the end of a response the client has not read yet.
    /// </summary>
    private async Task CloseGracefullyAsync()
    {
        socket.Shutdown(SocketShutdown.Send);
        try
        {
            await ClientClosed.WaitAsync(LingerTimeout, stopping);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>Completes when the client closes its side (or the socket fails); reads and drops anything it sends.</summary>
    private Task ClientClosed => _clientClosed ??= DrainAsync();

    private async Task DrainAsync()
    {
        var buffer = new byte[512];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stopping) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads up to the blank line that ends the request head. Not complete when the client closed or stalled first.</summary>
    private async Task<(RequestHead? Head, bool Complete)> ReadHeadAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(HeadTimeout);
        var buffer = new byte[4096];
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= MaxHeadBytes) return (null, true);
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token);
                if (read == 0) return (null, false);
                var searchFrom = Math.Max(0, length - 3);
                length += read;
                var end = EndOfHead(buffer.AsSpan(searchFrom, length - searchFrom));
                if (end >= 0) return (RequestHead.Parse(buffer.AsSpan(0, searchFrom + end)), true);
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (null, false);
        }
    }

    private static int EndOfHead(ReadOnlySpan<byte> bytes)
    {
        var crlf = bytes.IndexOf("\r\n\r\n"u8);
        var lf = bytes.IndexOf("\n\n"u8);
        return crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
    }

    /// <summary>Splits <c>/{id}/{rest}</c>: the first segment, unescaped, names the node.</summary>
    private static (string? NodeId, string? Remainder) SplitPath(string path)
    {
        if (!path.StartsWith('/')) return (null, null);
        var slash = path.IndexOf('/', 1);
        var id = slash < 0 ? path[1..] : path[1..slash];
        if (id.Length == 0) return (null, null);
        return (Uri.UnescapeDataString(id), slash < 0 ? null : path[(slash + 1)..]);
    }
}
