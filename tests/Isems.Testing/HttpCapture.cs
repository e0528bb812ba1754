using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;

namespace Isems.Testing;

/// <summary>
/// An HTTP server on a free loopback port that answers every request with <c>200 {}</c> and keeps what it was sent:
/// where a test needs a service the collector reports to (Sentry), running for real, on this machine.
/// </summary>
public sealed class HttpCapture : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(string Path, string Body)> _requests = new();

    public int Port { get; }

    public HttpCapture()
    {
        Port = Ports.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = ServeAsync();
    }

    public IReadOnlyList<(string Path, string Body)> Requests => _requests.ToList();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            Stream body = context.Request.InputStream;
            if (context.Request.Headers["Content-Encoding"] == "gzip") body = new GZipStream(body, CompressionMode.Decompress);
            using (var reader = new StreamReader(body, Encoding.UTF8))
                _requests.Enqueue((context.Request.Url!.AbsolutePath, await reader.ReadToEndAsync()));
            var answer = "{}"u8.ToArray();
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(answer);
            context.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}
