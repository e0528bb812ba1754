using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace Isems.Testing;

/// <summary>
/// A real PostgreSQL server for tests: one per test process, started on first use on 127.0.0.1 with a free port, its
/// data under /tmp (fsync off), trust authentication for user <c>postgres</c>; stopped and deleted at process exit.
/// Each test takes a fresh database from <see cref="CreateDatabaseAsync"/>. With ISEMS_TEST_POSTGRES_URL set
/// (<c>postgresql://user:pass@host:port/db</c> of an existing server whose user may create databases), that server is
/// used instead and nothing is started.
/// </summary>
public sealed partial class PostgresServer : IAsyncDisposable
{
    public const string ExternalServerVariable = "ISEMS_TEST_POSTGRES_URL";
    private const string DirectoryPrefix = "isems-pg-";

    private static readonly Lock SharedGate = new();
    private static Task<PostgresServer>? _shared;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string? _binDirectory;
    private readonly string? _baseDirectory;
    private readonly bool _asPostgresUser;
    private readonly string _user;
    private readonly string _password;
    private readonly string _adminDatabase;
    private bool _running;
    private bool _disposed;

    private PostgresServer(string host, int port, string user, string password, string adminDatabase,
        string? binDirectory, string? baseDirectory, bool asPostgresUser)
    {
        Host = host;
        Port = port;
        _user = user;
        _password = password;
        _adminDatabase = adminDatabase;
        _binDirectory = binDirectory;
        _baseDirectory = baseDirectory;
        _asPostgresUser = asPostgresUser;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>True when this is a server of ISEMS_TEST_POSTGRES_URL rather than one started here.</summary>
    public bool IsExternal => _baseDirectory is null;

    /// <summary>The process's server, started on first call (thread-safe); later calls get the same one.</summary>
    public static Task<PostgresServer> SharedAsync()
    {
        lock (SharedGate)
        {
            // A failed start is tried again by the next caller rather than cached; a disposed server is replaced.
            if (_shared is null || _shared.IsFaulted || _shared.IsCanceled ||
                (_shared.IsCompletedSuccessfully && _shared.Result._disposed))
                _shared = Task.Run(CreateAsync);
            return _shared;
        }
    }

    /// <summary>
    /// A server of its own (own data folder and port), for a test that stops and starts it while other tests of the
    /// same process use the shared one. Dispose it at the end.
    /// </summary>
    public static Task<PostgresServer> StartPrivateAsync() => Task.Run(CreateAsync);

    /// <summary>Creates a fresh, empty database and returns its DATABASE_URL (<c>postgresql://…/name</c>).</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        name ??= "isems_" + Guid.NewGuid().ToString("N")[..16];
        if (!DatabaseName().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a simple database name (letters, digits, '_', at most 63).", nameof(name));
        await using (var connection = new NpgsqlConnection(ConnectionString(_adminDatabase)))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return Url(name);
    }

    /// <summary>A DATABASE_URL for a database of this server.</summary>
    public string Url(string database) =>
        $"postgresql://{Uri.EscapeDataString(_user)}:{Uri.EscapeDataString(_password)}@{HostForUrl()}:{Port}/{Uri.EscapeDataString(database)}";

    /// <summary>An Npgsql connection string for a database of this server (no pooling: for fixtures and assertions).</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Username = _user,
        Password = _password,
        Database = database,
        Pooling = false,
        Timeout = 15,
    }.ConnectionString;

    /// <summary>Stops the server (fast shutdown: clients are disconnected), keeping its data and port; see <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        ThrowIfExternal("stopped");
        await _gate.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_running) return;
            await PgCtlAsync(["stop", "-m", "fast", "-w", "-t", "60"]);
            _running = false;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>: same port, same data.</summary>
    public async Task StartAsync()
    {
        ThrowIfExternal("started");
        await _gate.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running) return;
            await StartServerAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server at once and deletes its data (what process exit does). A later <see cref="SharedAsync"/> starts a new one.</summary>
    public ValueTask DisposeAsync()
    {
        Shutdown();
        return ValueTask.CompletedTask;
    }

    private static async Task<PostgresServer> CreateAsync()
    {
        var external = Environment.GetEnvironmentVariable(ExternalServerVariable);
        if (!string.IsNullOrWhiteSpace(external))
            return await ExternalAsync(external.Trim());

        var bin = FindBinaries();
        RemoveStaleServers(bin);
        var asPostgres = await IsRootAsync();
        var baseDirectory = Path.Combine(TempRoot, $"{DirectoryPrefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(baseDirectory);
        PostgresServer? server = null;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(baseDirectory, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(Path.Combine(baseDirectory, "socket"));
            if (asPostgres)
                await RunAsync("chown", ["-R", "postgres:postgres", baseDirectory], asPostgres: false);
            StartReaper(bin, baseDirectory, asPostgres);

            await RunAsync(Path.Combine(bin, "initdb"),
                ["-D", Path.Combine(baseDirectory, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                asPostgres);
            await File.AppendAllTextAsync(Path.Combine(baseDirectory, "data", "postgresql.conf"), $"""

                # isems test server
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{Path.Combine(baseDirectory, "socket")}'
                fsync = off
                synchronous_commit = off
                full_page_writes = off
                max_connections = 300
                shared_buffers = 32MB
                log_min_messages = warning

                """);

            // The free port is found by binding to port 0; another process may take it before the server does: retry.
            for (var attempt = 1; ; attempt++)
            {
                server = new PostgresServer("127.0.0.1", FreePort(), "postgres", "postgres", "postgres", bin, baseDirectory, asPostgres);
                try
                {
                    await server.StartServerAsync();
                    break;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                }
            }
            AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopAtExit();
            return server;
        }
        catch
        {
            if (server is not null) server.Shutdown();
            else TryDelete(baseDirectory);
            throw;
        }
    }

    private static async Task<PostgresServer> ExternalAsync(string url)
    {
        var uri = Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme is "postgresql" or "postgres"
            ? parsed
            : throw new InvalidOperationException(
                $"{ExternalServerVariable} must be a URL like postgresql://user:password@host:5432/postgres, not '{url}'.");
        var userInfo = uri.UserInfo.Split(':', 2);
        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        var server = new PostgresServer(uri.IdnHost, uri.Port > 0 ? uri.Port : 5432,
            Uri.UnescapeDataString(userInfo[0]), userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "",
            database.Length > 0 ? database : "postgres", binDirectory: null, baseDirectory: null, asPostgresUser: false);
        await using (var connection = new NpgsqlConnection(server.ConnectionString(server._adminDatabase)))
            await connection.OpenAsync(); // fail here, with the server's own message, if it cannot be reached
        server._running = true;
        return server;
    }

    private async Task StartServerAsync()
    {
        await PgCtlAsync(["start", "-w", "-t", "60", "-l", Path.Combine(_baseDirectory!, "postgres.log"),
            "-o", $"-p {Port.ToString(CultureInfo.InvariantCulture)}"]);
        _running = true;
        // pg_ctl -w has seen the server accept connections; make sure TCP works as well before anyone uses it.
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
    }

    private Task PgCtlAsync(string[] arguments) =>
        RunAsync(Path.Combine(_binDirectory!, "pg_ctl"), ["-D", Path.Combine(_baseDirectory!, "data"), .. arguments], _asPostgresUser,
            logFile: Path.Combine(_baseDirectory!, "postgres.log"));

    /// <summary>Stops the server at once and deletes its data. Explicit disposal waits for both.</summary>
    private void Shutdown()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            if (IsExternal) return;
            if (_running)
                RunAndWait(Path.Combine(_binDirectory!, "pg_ctl"),
                    ["-D", Path.Combine(_baseDirectory!, "data"), "stop", "-m", "immediate", "-w", "-t", "30"], _asPostgresUser);
            _running = false;
            TryDelete(_baseDirectory!);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// At process exit: the test host is killed moments after its tests end (with its whole process tree), too soon to
    /// wait for the server. So the server is only told to stop (immediate shutdown, no waiting) here, and the
    /// <see cref="StartReaper">reaper</see> deletes the data once this process is gone.
    /// </summary>
    private void StopAtExit()
    {
        if (_disposed || IsExternal || !_running) return;
        RunAndWait(Path.Combine(_binDirectory!, "pg_ctl"),
            ["-D", Path.Combine(_baseDirectory!, "data"), "stop", "-m", "immediate", "--no-wait"], _asPostgresUser);
    }

    /// <summary>
    /// A detached shell (its own session, so not killed with this process's tree) that waits for this process to end,
    /// however it ends, then stops the server and deletes its folder.
    /// </summary>
    private static void StartReaper(string bin, string baseDirectory, bool asPostgres)
    {
        var stop = (asPostgres ? "runuser -u postgres -- " : "") +
                   $"'{Path.Combine(bin, "pg_ctl")}' -D '{Path.Combine(baseDirectory, "data")}' stop -m immediate -w -t 30";
        var script = $"""
            exec </dev/null >/dev/null 2>&1
            while kill -0 {Environment.ProcessId}; do sleep 0.3; done
            if [ -f '{Path.Combine(baseDirectory, "data", "postmaster.pid")}' ]; then {stop}; fi
            rm -rf '{baseDirectory}'
            """;
        try
        {
            var start = new ProcessStartInfo("setsid")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in (string[])["-f", "sh", "-c", script]) start.ArgumentList.Add(a);
            using var process = Process.Start(start);
            process?.WaitForExit(5_000); // setsid -f returns at once, the shell lives on
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // No setsid: the server still stops at exit; its folder goes when the next test process starts.
        }
    }

    private void ThrowIfExternal(string what)
    {
        if (IsExternal)
            throw new NotSupportedException(
                $"The PostgreSQL server of {ExternalServerVariable} is not this test process's own; it cannot be {what} here.");
    }

    /// <summary>/tmp where there is one (the postgres user can reach it, unlike a private TMPDIR), else the system's temp folder.</summary>
    private static string TempRoot => !OperatingSystem.IsWindows() && Directory.Exists("/tmp") ? "/tmp" : Path.GetTempPath();

    private string HostForUrl() => Host.Contains(':') ? $"[{Host}]" : Host;

    /// <summary>The newest /usr/lib/postgresql/&lt;version&gt;/bin, else initdb and pg_ctl on PATH.</summary>
    private static string FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        if (Directory.Exists(root))
        {
            var newest = Directory.GetDirectories(root)
                .Select(dir => (Dir: dir, Version: double.TryParse(Path.GetFileName(dir), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(x => x.Version >= 0 && HasServerBinaries(Path.Combine(x.Dir, "bin")))
                .OrderByDescending(x => x.Version)
                .Select(x => Path.Combine(x.Dir, "bin"))
                .FirstOrDefault();
            if (newest is not null) return newest;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            if (HasServerBinaries(dir))
                return dir;
        throw new InvalidOperationException(
            "The tests need a PostgreSQL server, but its programs (initdb, pg_ctl, postgres) were found neither in " +
            "/usr/lib/postgresql/<version>/bin nor on PATH. Install them (Debian/Ubuntu: `sudo apt-get install postgresql`; " +
            "Fedora: `sudo dnf install postgresql-server`; macOS: `brew install postgresql`), or set " +
            $"{ExternalServerVariable}=postgresql://user:password@host:5432/postgres to use a running server whose user may create databases.");
    }

    private static bool HasServerBinaries(string dir) =>
        File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "postgres"));

    /// <summary>initdb and postgres refuse to run as root: then they run as the <c>postgres</c> user.</summary>
    private static async Task<bool> IsRootAsync()
    {
        if (OperatingSystem.IsWindows()) return false;
        if (Environment.UserName == "root") return true;
        try
        {
            return (await RunAsync("id", ["-u"], asPostgres: false)).Trim() == "0";
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Servers left behind by test processes that were killed: stop them and delete their data.</summary>
    private static void RemoveStaleServers(string bin)
    {
        string[] candidates;
        try
        {
            candidates = Directory.GetDirectories(TempRoot, DirectoryPrefix + "*");
        }
        catch (IOException)
        {
            return;
        }
        foreach (var dir in candidates)
        {
            try
            {
                var pidFile = Path.Combine(dir, "owner.pid");
                if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile), out var pid) || ProcessAlive(pid)) continue;
                var data = Path.Combine(dir, "data");
                if (File.Exists(Path.Combine(data, "postmaster.pid")))
                {
                    var root = Environment.UserName == "root";
                    RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", data, "stop", "-m", "immediate", "-w", "-t", "10"], root)
                        .Wait(TimeSpan.FromSeconds(15));
                }
                TryDelete(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or AggregateException)
            {
                // Someone else's or still busy: leave it.
            }
        }
    }

    private static bool ProcessAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Runs a program and waits for it on this thread (no thread pool: also at process exit); failures are ignored.</summary>
    private static void RunAndWait(string program, IReadOnlyList<string> arguments, bool asPostgres)
    {
        try
        {
            using var process = Process.Start(StartInfo(program, arguments, asPostgres));
            if (process is null) return;
            process.StandardInput.Close();
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit(30_000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
        }
    }

    private static ProcessStartInfo StartInfo(string program, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var start = new ProcessStartInfo
        {
            FileName = asPostgres ? "runuser" : program,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = TempRoot,
        };
        if (asPostgres)
            foreach (var a in (string[])["-u", "postgres", "--", program])
                start.ArgumentList.Add(a);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["LC_ALL"] = "C";
        return start;
    }

    /// <summary>Runs a program (as <c>postgres</c> via runuser when asked), returns its output, throws with it on failure.</summary>
    private static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgres, string? logFile = null)
    {
        using var process = Process.Start(StartInfo(program, arguments, asPostgres)) ?? throw new InvalidOperationException($"Could not start {program}.");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} did not finish within 120 s.");
        }
        var text = await output + await error;
        if (process.ExitCode != 0)
        {
            var log = new StringBuilder(text);
            if (logFile is not null && File.Exists(logFile))
            {
                var lines = File.ReadAllLines(logFile);
                log.AppendLine().AppendLine($"--- last lines of {logFile} ---");
                foreach (var line in lines.TakeLast(20)) log.AppendLine(line);
            }
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:{Environment.NewLine}{log}");
        }
        return text;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();
}
