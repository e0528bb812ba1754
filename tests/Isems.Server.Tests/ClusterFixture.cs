using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using Npgsql;

namespace Isems.Server.Tests;

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

/// <summary>One fetch of a node's log as the simulated node saw it: who asked (a member's index, -1 when no member holds the socket) and when.</summary>
public sealed record Fetch(string NodeId, int Member, DateTime At);

/// <summary>A member's view of the cluster (<c>GET /cluster</c>).</summary>
public sealed record ClusterView(string? Self, string? Leader, IReadOnlyList<(string Address, string Status)> Members, IReadOnlyList<string> Unreachable)
{
    public int UpCount => Members.Count(m => m.Status == "Up");

    public static ClusterView Parse(string json)
    {
        var root = JsonNode.Parse(json)!;
        return new ClusterView(
            (string?)root["self"], (string?)root["leader"],
            root["members"]!.AsArray().Select(m => ((string)m!["address"]!, (string)m["status"]!)).ToList(),
            root["unreachable"]!.AsArray().Select(u => (string)u!).ToList());
    }
}

/// <summary>
/// Three collector processes (the built Isems.Server.dll) as one cluster on loopback, over one real PostgreSQL database
/// and one real Mosquitto, polling simulated routers every 10 s. Every request a router receives is recorded with the
/// member that sent it, read from the kernel's socket table (<see cref="LoopbackPeers"/>): the members are judged by
/// what the nodes see, not by what they say about themselves. Shared by the ordered steps of <see cref="ClusterTests"/>.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int MemberCount = 3;
    public const int RouterCount = 30;
    public const string AdminToken = "cluster-admin-token-0123456789";

    /// <summary>The interval the contract's failover bound is given for (≤ 30 s at 10 s).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _temp = new();
    private readonly int[] _httpPorts = Enumerable.Range(0, MemberCount).Select(_ => Ports.Free()).ToArray();
    private readonly int[] _clusterPorts = Enumerable.Range(0, MemberCount).Select(_ => Ports.Free()).ToArray();
    private readonly CollectorProcess?[] _members = new CollectorProcess?[MemberCount];
    private readonly string?[] _addresses = new string?[MemberCount];
    private readonly ConcurrentQueue<Fetch> _fetches = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private int[] _pids = new int[MemberCount];
    private string _database = "";

    /// <summary>Simulated nodes whose clock is two hours behind: lines appended during the tests stay in the past.</summary>
    public SimulatedFleet Fleet { get; } = SimulatedFleet.Start(clock: new ShiftedClock(TimeSpan.FromHours(-2)));

    public IReadOnlyList<SimulatedNode> Routers { get; private set; } = [];

    public MosquittoBroker Broker { get; private set; } = null!;

    public PostgresServer Postgres { get; private set; } = null!;

    /// <summary>MQTT publishing and routers logging, started and stopped by the steps that need the fleet busy.</summary>
    public ClusterLoad Load { get; } = new();

    public async Task InitializeAsync()
    {
        Fleet.NodeRequested += Record;
        Routers = Enumerable.Range(1, RouterCount).Select(i => Fleet.AddNode($"Cluster-Router-{i:00}", historyLines: 10)).ToList();
        Postgres = await PostgresServer.SharedAsync();
        _database = "isems_cluster_" + Guid.NewGuid().ToString("N")[..12];
        await Postgres.CreateDatabaseAsync(_database);
        Broker = await MosquittoBroker.StartNewAsync();
        // All at once, as an operator's service manager starts them; each lists every member as a seed.
        await Task.WhenAll(Enumerable.Range(0, MemberCount).Select(StartMemberAsync));
    }

    /// <summary>Member <paramref name="index"/>'s settings: the same fleet, database and broker for all, its own ports and MQTT client id.</summary>
    public Dictionary<string, string> Settings(int index) => new()
    {
        ["DATABASE_URL"] = Postgres.Url(_database),
        ["ISEMS_ROUTER_IPS"] = string.Join(",", Routers.Select(r => r.LogUrl)),
        ["POLL_INTERVAL_SECONDS"] = ((int)Interval.TotalSeconds).ToString(),
        ["MQTT_SERVER"] = "127.0.0.1",
        ["MQTT_PORT"] = Broker.Port.ToString(),
        // Each member keeps its own persistent session: what the broker holds for a killed member waits for it.
        ["MQTT_CLIENT_ID"] = $"isems-cluster-member-{index + 1}",
        ["ISEMS_ADMIN_TOKEN"] = AdminToken,
        ["CLUSTER_HOSTNAME"] = "127.0.0.1",
        ["CLUSTER_PORT"] = _clusterPorts[index].ToString(),
        ["CLUSTER_SEEDS"] = string.Join(",", _clusterPorts.Select(p => $"127.0.0.1:{p}")),
    };

    /// <summary>Starts member <paramref name="index"/> (again, after a kill: same ports, same folder) and waits until it answers HTTP.</summary>
    public async Task StartMemberAsync(int index)
    {
        var folder = Directory.CreateDirectory(_temp.File($"member-{index + 1}")).FullName;
        if (_members[index] is { } before) await before.DisposeAsync();
        _members[index] = await CollectorProcess.StartAsync(Settings(index), folder, _httpPorts[index],
            launched: pid => SetPid(index, pid));
    }

    /// <summary>SIGKILL: the member ends between two instructions, its sockets closed by the kernel.</summary>
    public void Kill(int index)
    {
        _members[index]!.Kill();
        SetPid(index, 0);
    }

    public bool IsRunning(int index) => _members[index] is { ExitCode: null };

    public Uri BaseAddress(int index) => new($"http://127.0.0.1:{_httpPorts[index]}");

    public HttpClient Client(int index) => new() { BaseAddress = BaseAddress(index), Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The member's own address as it says in <c>/cluster</c> (<c>self</c>), once it has been seen Up.</summary>
    public string? Address(int index) => _addresses[index];

    /// <summary>The member whose address this is, or -1.</summary>
    public int MemberOf(string? address) => address is null ? -1 : Array.IndexOf(_addresses, address);

    /// <summary>The last lines a member wrote (for a failure's message).</summary>
    public string OutputTail(int index, int lines = 40)
    {
        var output = _members[index]?.Output ?? "";
        return string.Join('\n', output.Split('\n').TakeLast(lines));
    }

    public IReadOnlyList<Fetch> Fetches => _fetches.ToArray();

    public IReadOnlyList<Fetch> FetchesSince(DateTime since) => _fetches.Where(f => f.At >= since).ToList();

    /// <summary>Member <paramref name="index"/>'s <c>GET /cluster</c>, or null when it does not answer (yet).</summary>
    public async Task<ClusterView?> ViewAsync(int index)
    {
        try
        {
            var response = await _http.GetAsync(new Uri(BaseAddress(index), "/cluster"));
            return response.IsSuccessStatusCode ? ClusterView.Parse(await response.Content.ReadAsStringAsync()) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits until every running member sees all <see cref="MemberCount"/> members Up and none unreachable, and
    /// learns each member's address from its own view.
    /// </summary>
    public async Task WaitUntilAllUpAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var views = new ClusterView?[MemberCount];
        while (true)
        {
            for (var i = 0; i < MemberCount; i++) views[i] = await ViewAsync(i);
            if (views.All(v => v is { UpCount: MemberCount, Unreachable.Count: 0, Self: not null }))
            {
                for (var i = 0; i < MemberCount; i++) _addresses[i] = views[i]!.Self;
                return;
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the cluster did not show {MemberCount} members Up on every member within {within.TotalSeconds:0} s: " +
                    string.Join("; ", views.Select((v, i) => $"member {i + 1}: " + (v is null ? "no answer" :
                        $"self {v.Self}, {string.Join(", ", v.Members.Select(m => $"{m.Address} {m.Status}"))}, unreachable [{string.Join(", ", v.Unreachable)}]"))) +
                    "\n" + string.Join("\n", Enumerable.Range(0, MemberCount).Select(i => $"--- member {i + 1} ---\n{OutputTail(i)}")));
            await Task.Delay(250);
        }
    }

    /// <summary>The <c>/nodes</c> list of a member.</summary>
    public async Task<JsonArray> NodesAsync(int index) =>
        JsonNode.Parse(await _http.GetStringAsync(new Uri(BaseAddress(index), "/nodes")))!["nodes"]!.AsArray();

    /// <summary>Rows stored per node, straight from PostgreSQL.</summary>
    public async Task<Dictionary<string, long>> RowsPerNodeAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString(_database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT node_id, count(*) FROM measurements GROUP BY node_id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync()) rows[reader.GetString(0)] = reader.GetInt64(1);
        return rows;
    }

    /// <summary>The timestamps stored for one node.</summary>
    public async Task<HashSet<long>> TimestampsAsync(string nodeId)
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString(_database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT timestamp FROM measurements WHERE node_id = @node", connection);
        command.Parameters.AddWithValue("node", nodeId);
        await using var reader = await command.ExecuteReaderAsync();
        var timestamps = new HashSet<long>();
        while (await reader.ReadAsync()) timestamps.Add(reader.GetInt64(0));
        return timestamps;
    }

    /// <summary>Rows whose (node, timestamp) is stored more than once: the unique index should make this always 0.</summary>
    public async Task<long> DoubledRowsAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString(_database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) - count(DISTINCT (node_id, timestamp)) FROM measurements", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private void SetPid(int index, int pid)
    {
        lock (_fetches)
        {
            var pids = (int[])_pids.Clone();
            pids[index] = pid;
            Volatile.Write(ref _pids, pids);
        }
    }

    /// <summary>Runs while the asking member still waits for its answer, so its socket is still there to be found.</summary>
    private void Record(SimulatedNode node, IPEndPoint client)
    {
        var at = DateTime.UtcNow;
        var pids = Volatile.Read(ref _pids);
        var owner = LoopbackPeers.OwnerOf(client, Fleet.BaseAddress.Port, pids.Where(p => p > 0).ToArray());
        _fetches.Enqueue(new Fetch(node.NodeId, owner is { } pid ? Array.IndexOf(pids, pid) : -1, at));
    }

    public async Task DisposeAsync()
    {
        await Load.DisposeAsync();
        foreach (var member in _members)
            if (member is not null)
                await member.DisposeAsync();
        await Fleet.DisposeAsync();
        if (Broker is not null) await Broker.DisposeAsync();
        _http.Dispose();
        _temp.Dispose();
    }

    private sealed class ShiftedClock(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + by;
    }
}
