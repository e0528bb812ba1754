using System.Diagnostics;
using System.Text;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>
/// The collector as its own process (the built Isems.Server.dll, run by <c>dotnet</c>), for what only a process can
/// show: a kill with SIGKILL, with no chance to flush or say goodbye.
/// </summary>
public sealed class CollectorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public Uri BaseAddress { get; }

    private CollectorProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    /// <param name="port">The HTTP port; by default a free one. A member started again keeps its port.</param>
    /// <param name="launched">Told the process's id as soon as it runs, before it answers (it may poll before then).</param>
    public static Task<CollectorProcess> StartAsync(IReadOnlyDictionary<string, string> settings, string workingDirectory, int? port = null,
        Action<int>? launched = null)
    {
        port ??= Ports.Free();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in settings) start.Environment[key] = value;
        return StartAsync(start, new Uri($"http://127.0.0.1:{port}"), launched);
    }

    /// <summary>Any command that runs the collector (a published binary, a systemd unit's ExecStart) answering at <paramref name="baseAddress"/>.</summary>
    public static async Task<CollectorProcess> StartAsync(ProcessStartInfo start, Uri baseAddress, Action<int>? launched = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        launched?.Invoke(process.Id);
        var collector = new CollectorProcess(process, baseAddress);
        process.OutputDataReceived += (_, e) => collector.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => collector.Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await collector.WaitUntilAnsweringAsync();
        }
        catch
        {
            await collector.DisposeAsync(); // not left running behind a failed start
            throw;
        }
        return collector;
    }

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>The process's id (the <c>dotnet</c> host runs the collector in itself).</summary>
    public int ProcessId => _process.Id;

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress };

    /// <summary>SIGKILL: the process ends between two instructions.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd and docker stop send it; the exit code, once the process has ended.</summary>
    public async Task<int> TerminateAsync(TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private async Task WaitUntilAnsweringAsync()
    {
        using var client = CreateClient();
        // Generous: a process started while the suite's other tests load both cores (or three cluster members start at
        // once) can take a minute to listen.
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"The collector exited with {_process.ExitCode}:\n{Output}");
            try
            {
                if ((await client.GetAsync("/nodes")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The collector did not answer within 120 s:\n{Output}");
            await Task.Delay(100);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
