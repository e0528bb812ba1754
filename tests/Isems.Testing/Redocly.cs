using System.Diagnostics;

namespace Isems.Testing;

/// <summary>
/// Redocly CLI, the OpenAPI linter, installed with npm once into the user's cache directory (a pinned version, so a
/// new rule upstream never fails a build by surprise) and shared by every test run after.
/// </summary>
public static class Redocly
{
    public const string Version = "2.77.0";

    private static readonly SemaphoreSlim Installing = new(1, 1);

    public static async Task<string> PathAsync()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var prefix = System.IO.Path.Combine(cache, "isems-tests", $"redocly-cli-{Version}");
        var cli = System.IO.Path.Combine(prefix, "node_modules", ".bin", "redocly");
        await Installing.WaitAsync();
        try
        {
            if (File.Exists(cli)) return cli;
            Directory.CreateDirectory(prefix);
            // Into a directory of its own first, then moved: another test process never sees half an install.
            var staging = prefix + "." + Environment.ProcessId;
            var start = new ProcessStartInfo("npm", ["install", "--no-audit", "--no-fund", "--prefix", staging, $"@redocly/cli@{Version}"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using var npm = Process.Start(start) ?? throw new InvalidOperationException("npm did not start (apt-get install npm)");
            var output = npm.StandardOutput.ReadToEndAsync();
            var error = npm.StandardError.ReadToEndAsync();
            await npm.WaitForExitAsync();
            if (npm.ExitCode != 0)
                throw new InvalidOperationException($"npm install @redocly/cli@{Version} failed ({npm.ExitCode}):\n{await output}{await error}");
            var modules = System.IO.Path.Combine(prefix, "node_modules");
            if (!Directory.Exists(modules)) Directory.Move(System.IO.Path.Combine(staging, "node_modules"), modules);
            Directory.Delete(staging, recursive: true);
            return cli;
        }
        finally
        {
            Installing.Release();
        }
    }
}
