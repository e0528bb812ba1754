using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Isems.Testing;

/// <summary>
/// A real Mosquitto broker on a free loopback port, with persistence in a folder of its own, that a test can stop
/// (SIGTERM, as a service manager would) and start again on the same port with the same stored sessions.
/// Configured as the README says a deployment should be for the collector's throughput.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/mosquitto";

    private readonly string _folder;
    private Process? _process;

    private MosquittoBroker(string folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    /// <param name="extraConfig">
    /// Lines added to the configuration: more listeners (TLS), a password file. When they set <c>allow_anonymous</c>,
    /// the default (anonymous clients allowed) is left out.
    /// </param>
    public static async Task<MosquittoBroker> StartNewAsync(string? extraConfig = null)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"{Binary} is missing: install Mosquitto (apt-get install mosquitto), as ./test.sh does.");
        var folder = Directory.CreateTempSubdirectory("isems-mosquitto-").FullName;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            var broker = new MosquittoBroker(folder, ((IPEndPoint)listener.LocalEndpoint).Port);
            listener.Stop();
            await File.WriteAllTextAsync(Path.Combine(folder, "mosquitto.conf"), $"""
                listener {broker.Port} 127.0.0.1
                {(extraConfig?.Contains("allow_anonymous") == true ? "" : "allow_anonymous true")}
                user root
                persistence true
                persistence_location {folder}/
                autosave_interval 60
                max_inflight_messages 1000
                max_queued_messages 0
                max_queued_bytes 0
                log_dest stderr
                log_type error
                log_type warning
                {extraConfig}
                """);
            await broker.StartAsync();
            return broker;
        }
    }

    public async Task StartAsync()
    {
        _process = Process.Start(new ProcessStartInfo(Binary, ["-c", Path.Combine(_folder, "mosquitto.conf")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Stops the broker as a service manager would (SIGTERM): it saves its sessions and queued messages.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
