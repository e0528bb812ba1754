using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Isems.Testing;

/// <summary>A real Prometheus Alertmanager (Debian's <c>prometheus-alertmanager</c>) on a free port, with its own storage.</summary>
public sealed class AlertmanagerServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus-alertmanager";

    private readonly TempDirectory _dir = new();
    private readonly Process _process;
    private readonly HttpClient _http;

    public Uri Url { get; }

    private AlertmanagerServer(int port)
    {
        Url = new Uri($"http://127.0.0.1:{port}");
        _http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(5) };
        var config = _dir.File("alertmanager.yml");
        File.WriteAllText(config, "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n");
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
                 {
                     $"--config.file={config}", $"--storage.path={_dir.File("data")}", $"--web.listen-address=127.0.0.1:{port}",
                     "--cluster.listen-address=",
                 })
            start.ArgumentList.Add(arg);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static async Task<AlertmanagerServer> StartAsync(int? port = null)
    {
        var server = new AlertmanagerServer(port ?? Ports.Free());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                if ((await server._http.GetAsync("/-/ready")).IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Alertmanager did not start within 20 s");
            await Task.Delay(100);
        }
    }

    /// <summary>The alerts Alertmanager holds as active (GET /api/v2/alerts): resolved ones are not listed.</summary>
    public async Task<JsonArray> AlertsAsync() => JsonNode.Parse(await _http.GetStringAsync("/api/v2/alerts"))!.AsArray();

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _http.Dispose();
        _dir.Dispose();
    }
}
