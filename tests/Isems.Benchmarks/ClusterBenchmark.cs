using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isems.Server.Hosting;
using Isems.Simulator;
using Isems.Testing;

namespace Isems.Benchmarks;

/// <summary>
/// Issue 15's figures: N simulated routers polled by three collector processes as one cluster on one PostgreSQL,
/// beside one collector process on the same server as the baseline, in the same run. Memory per member, how the polls
/// spread over the members (who fetched is read from the kernel's socket table at the simulator), the failover after a
/// SIGKILL (the dead member removed, its nodes owned by the survivors as /nodes names them, and those whose slot came
/// while nobody owned them fetched again), and the rebalancing when the member comes back. Who owns a node is read from
/// the members, not waited for at the nodes, so 10,000 and 100,000 nodes fit in a run.
/// </summary>
internal static class ClusterBenchmark
{
    private const int Members = 3;
    private const int Victim = 1; // the second member: the first seed is the oldest and hosts the singletons

    public static async Task RunAsync(int nodes, int? intervalAsked = null)
    {
        // At 1,000 nodes the contract's 10 s, so failover is measured as "fetched again within 30 s". Beyond, an
        // interval this 2-core machine can serve beside three members, PostgreSQL and the simulator: about 30 fetches a
        // second over the fleet (what the loaded machine managed at 1,000), so a fleet of 10,000 or 100,000 is not
        // asked for more than it can fetch and the figures say how the members share it, not how far behind they are.
        var interval = intervalAsked ?? (nodes <= 1_000 ? 10 : nodes / 30);
        var waitForFirstCycle = (double)interval * 3 <= 60;
        Report.Header($"cluster: {nodes:N0} simulated routers (5-line logs), poll interval {interval} s ({(double)nodes / interval:N0} fetches/s asked), PostgreSQL; three collector processes beside one (load {Load()})");
        await using var fleet = SimulatedFleet.Start();
        var routers = Enumerable.Range(0, nodes).Select(i => fleet.AddNode($"Bench-{i:000000}", historyLines: 5)).ToList();
        var ledger = new Ledger(fleet, sampleEvery: Math.Max(1, nodes / interval / 100));
        var server = await PostgresServer.SharedAsync();
        var urls = routers.Select(r => r.LogUrl.ToString()).ToList();
        _pause = TimeSpan.FromMilliseconds(Math.Max(250, nodes / 20));
        _canonical = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in routers)
        {
            _canonical[r.LogUrl.ToString()] = r.LogUrl.ToString();
            _canonical[r.NodeId] = r.LogUrl.ToString();
        }
        var folder = Directory.CreateTempSubdirectory("isems-bench-cluster-");
        try
        {
            // The baseline: one process on its own database of the same server: until every node is listed (its actor
            // up), its memory then, and at 10 s the first cycle.
            var singleUrl = await server.CreateDatabaseAsync();
            var requestsBefore = routers.Select(r => r.Requests).ToArray();
            double singleResident;
            double? singleCycle = null;
            await using (var single = await Member.StartAsync(Path.Combine(folder.FullName, "single"), Settings(singleUrl, urls, interval, null)))
            {
                Report.Row("one process: start to serving (/healthz)", single.ServingAfter.TotalMilliseconds, "ms", $"load {Load()}");
                await Progress(UntilAsync(async () => (await OwnersAsync(single)).Count >= nodes, TimeSpan.FromMinutes(10)),
                    "every node listed by the one process", async () => $"{(await OwnersAsync(single)).Count:N0} listed");
                Report.Row("  start to every node listed in /nodes", single.Started.Elapsed.TotalMilliseconds, "ms", $"load {Load()}");
                if (waitForFirstCycle)
                {
                    var cycle = await FirstCycleAsync(routers, requestsBefore, single.Started, TimeSpan.FromMinutes(3));
                    singleCycle = cycle.TotalSeconds;
                    Report.Row("  start to every node polled once", cycle.TotalMilliseconds, "ms", $"load {Load()}");
                }
                await Task.Delay(TimeSpan.FromSeconds(5));
                singleResident = single.ResidentMiB();
                Report.Row("  resident memory, every node's actor up", singleResident, "MiB", $"{singleResident * 1024 / nodes:N1} KiB a node; load {Load()}");
            }

            // The cluster: three members, every member a seed, on a database of their own.
            var clusterUrl = await server.CreateDatabaseAsync();
            var clusterPorts = Enumerable.Range(0, Members).Select(_ => Ports.Free()).ToArray();
            var seeds = string.Join(",", clusterPorts.Select(p => $"127.0.0.1:{p}"));
            var members = new Member?[Members];
            Dictionary<string, string> MemberSettings(int i) => Settings(clusterUrl, urls, interval, (clusterPorts[i], seeds));
            string MemberFolder(int i) => Path.Combine(folder.FullName, $"member-{i + 1}");
            try
            {
                requestsBefore = routers.Select(r => r.Requests).ToArray();
                var starting = Stopwatch.StartNew();
                var started = await Task.WhenAll(Enumerable.Range(0, Members).Select(i => Member.StartAsync(MemberFolder(i), MemberSettings(i), ledger.Attach(i))));
                for (var i = 0; i < Members; i++) members[i] = started[i];
                await UntilAsync(async () => await UpCountAsync(members[0]!) == Members, TimeSpan.FromMinutes(5));
                Report.Row("cluster: start to three members Up", starting.Elapsed.TotalMilliseconds, "ms", $"load {Load()}");
                // Owned: listed by the first member with the member whose entity holds it (its shard started it).
                await Progress(UntilAsync(async () => (await OwnersAsync(members[0]!)).Count(o => o.Value is not null) >= nodes, TimeSpan.FromMinutes(10)),
                    "every node owned by a member", async () => $"{(await OwnersAsync(members[0]!)).Count(o => o.Value is not null):N0} owned");
                Report.Row("cluster: start to every node owned (/nodes names its member)", starting.Elapsed.TotalMilliseconds, "ms", $"load {Load()}");
                if (waitForFirstCycle)
                {
                    var cycle = await FirstCycleAsync(routers, requestsBefore, members[0]!.Started, TimeSpan.FromMinutes(3));
                    Report.Row("cluster: start to every node polled once", cycle.TotalMilliseconds, "ms", $"one process: {singleCycle * 1000:N0} ms; load {Load()}");
                }
                await Task.Delay(TimeSpan.FromSeconds(5));
                var addresses = new string[Members];
                for (var i = 0; i < Members; i++) addresses[i] = (await ViewAsync(members[i]!))!["self"]!.GetValue<string>();
                var resident = members.Select(m => m!.ResidentMiB()).ToArray();
                var ownersNow = await OwnersAsync(members[0]!);
                var ownedBy = addresses.Select(a => ownersNow.Values.Count(v => v == a)).ToArray();
                Report.Row("  resident memory per member, every node owned", resident.Average(), "MiB",
                    $"members {string.Join(" / ", resident.Select(r => r.ToString("N0")))} MiB, owning {string.Join(" / ", ownedBy.Select(o => o.ToString("N0")))} nodes; one process {singleResident:N0} MiB; load {Load()}");

                // The spread: who fetched over one interval, at most a minute of it (a window of a long interval is a
                // sample of its slots, which are spread evenly over it).
                var window = TimeSpan.FromSeconds(Math.Clamp(interval, 30, 60));
                var windowStart = DateTime.UtcNow;
                await Task.Delay(window);
                var spread = ledger.PerMember(windowStart, DateTime.UtcNow);
                var total = Math.Max(1, spread.Sum());
                var rate = total * ledger.SampleEvery / window.TotalSeconds;
                Report.Row($"  fetches per member over {window.TotalSeconds:N0} s", total * ledger.SampleEvery, "fetches",
                    $"{string.Join(" / ", spread.Select(s => $"{100.0 * s / total:N0}%"))} ({(ledger.SampleEvery > 1 ? $"1 in {ledger.SampleEvery} attributed" : "every fetch attributed")}); {rate:N1}/s of {(double)nodes / interval:N1}/s asked; load {Load()}");
                resident = members.Select(m => m!.ResidentMiB()).ToArray();
                Report.Row("  resident memory per member after it", resident.Average(), "MiB", $"members {string.Join(" / ", resident.Select(r => r.ToString("N0")))} MiB");
                Report.Summary($"cluster, {nodes:N0} nodes ({interval} s): fetches per member", string.Join(" / ", spread.Select(s => $"{100.0 * s / total:N0}%")),
                    $"{rate:N1} fetches/s of {(double)nodes / interval:N1}/s asked, over {window.TotalSeconds:N0} s; nodes owned {string.Join(" / ", ownedBy.Select(o => o.ToString("N0")))}");
                Report.Summary($"cluster, {nodes:N0} nodes: resident memory per member", $"{string.Join(" / ", resident.Select(r => r.ToString("N0")))} MiB",
                    $"one process on the same PostgreSQL: {singleResident:N0} MiB");

                // Failover: the nodes the victim owns (as the first member's /nodes says), SIGKILLed.
                var owners = await OwnersAsync(members[0]!);
                var victimAddress = addresses[Victim];
                var owned = owners.Where(o => o.Value == victimAddress).Select(o => o.Key).ToHashSet();
                var killedAt = DateTime.UtcNow;
                var lastBefore = ledger.MarkAndSnapshot(killedAt);
                var sinceKill = Stopwatch.StartNew();
                members[Victim]!.Kill();
                await UntilAsync(async () => await MemberCountAsync(members[0]!) == Members - 1, TimeSpan.FromMinutes(3));
                var removedAfter = sinceKill.Elapsed.TotalSeconds;
                await Progress(UntilAsync(async () =>
                {
                    var now = await OwnersAsync(members[0]!);
                    return owned.All(url => now.TryGetValue(url, out var owner) && owner is not null && owner != victimAddress);
                }, TimeSpan.FromMinutes(3)), "its nodes owned by the survivors", async () =>
                {
                    var now = await OwnersAsync(members[0]!);
                    return $"{owned.Count(url => now.TryGetValue(url, out var owner) && owner is not null && owner != victimAddress):N0} of {owned.Count:N0} owned by survivors";
                });
                var reownedAfter = sinceKill.Elapsed.TotalSeconds;
                Report.Row($"failover after SIGKILL of member {Victim + 1} ({owned.Count:N0} nodes): removed", removedAfter * 1000, "ms", $"the survivors' /cluster lists two members; load {Load()}");
                Report.Row("  its nodes owned by the survivors", reownedAfter * 1000, "ms", $"from the kill, every one of them under a survivor in /nodes; load {Load()}");

                // Fetched again: the nodes whose slot came while nobody owned them (last fetched more than an interval
                // before they were owned again) are caught up at once; the others keep their slots.
                var reownedAt = killedAt + TimeSpan.FromSeconds(reownedAfter);
                var due = owned.Where(url => lastBefore.TryGetValue(url, out var last) && last + TimeSpan.FromSeconds(interval) <= reownedAt).ToList();
                await Progress(UntilAsync(() => Task.FromResult(due.All(ledger.FetchedAfterMark)), TimeSpan.FromMinutes(3)),
                    "its due nodes fetched again", () => Task.FromResult($"{due.Count(ledger.FetchedAfterMark):N0} of {due.Count:N0} due fetched again; {ledger.RateSince(DateTime.UtcNow - TimeSpan.FromSeconds(10)):N1} fetches/s over the fleet"));
                var again = due.Select(ledger.FirstAfterMark).OfType<DateTime>().Select(t => (t - killedAt).TotalSeconds).Order().ToArray();
                var catchUpRate = again.Length > 1 && again[^1] > reownedAfter ? again.Count(t => t >= reownedAfter) / (again[^1] - reownedAfter) : double.NaN;
                var fleetRate = ledger.RateBetween(reownedAt, killedAt + TimeSpan.FromSeconds(again.Length > 0 ? Math.Max(again[^1], reownedAfter + 1) : reownedAfter + 10));
                if (again.Length > 0)
                {
                    Report.Row($"  its {due.Count:N0} nodes due meanwhile fetched again: first", again[0] * 1000, "ms",
                        $"median {Quantile(again, 0.5):N1} s, 90% {Quantile(again, 0.9):N1} s, last {again[^1]:N1} s from the kill; {again.Length:N0} of {due.Count:N0}");
                    Report.Row("  catch-up fetch rate (due nodes, from owned to the last)", catchUpRate, "/s", $"the whole fleet meanwhile {fleetRate:N1} fetches/s (asked {(double)nodes / interval:N1}/s); load {Load()}");
                }
                var notDue = owned.Count(url => !due.Contains(url));
                Report.Summary($"cluster, {nodes:N0} nodes ({interval} s): failover after SIGKILL",
                    again.Length == due.Count && due.Count > 0 ? $"{again[^1]:N1} s to every due node fetched again"
                        : due.Count > 0 ? $"{again.Length:N0} of {due.Count:N0} due nodes fetched again within 3 min" : $"{reownedAfter:N1} s to every node owned",
                    $"removed after {removedAfter:N1} s, its {owned.Count:N0} nodes owned by survivors after {reownedAfter:N1} s; {due.Count:N0} due meanwhile (median {(again.Length > 0 ? Quantile(again, 0.5) : double.NaN):N1} s), {notDue:N0} keep their slots",
                    "≤ 30 s", again.Length > 0 ? again[^1] <= 30 && again.Length == due.Count : null);

                // Rebalancing: the member back, until it owns its share and the owners stop changing (35 s without a move).
                var rejoining = Stopwatch.StartNew();
                members[Victim] = await Member.StartAsync(MemberFolder(Victim), MemberSettings(Victim), ledger.Attach(Victim));
                await UntilAsync(async () => await UpCountAsync(members[0]!) == Members, TimeSpan.FromMinutes(3));
                var upAgain = rejoining.Elapsed;
                var lastChange = upAgain;
                var previous = await OwnersAsync(members[0]!);
                var quiet = Stopwatch.StartNew();
                var told = rejoining.Elapsed;
                while (quiet.Elapsed < TimeSpan.FromSeconds(35) && rejoining.Elapsed < TimeSpan.FromMinutes(5))
                {
                    if (members[Victim]!.Exited is { } exited)
                    {
                        Console.WriteLine($"    member {Victim + 1} (rejoined) {exited}");
                        break;
                    }
                    await Task.Delay(TimeSpan.FromSeconds(2) > _pause ? TimeSpan.FromSeconds(2) : _pause);
                    var now = await OwnersAsync(members[0]!);
                    if (now.Count(kv => previous.GetValueOrDefault(kv.Key) != kv.Value) > 0)
                    {
                        lastChange = rejoining.Elapsed;
                        quiet.Restart();
                    }
                    previous = now;
                    if (rejoining.Elapsed - told > TimeSpan.FromSeconds(15))
                    {
                        told = rejoining.Elapsed;
                        Console.WriteLine($"    … {rejoining.Elapsed.TotalSeconds:N0} s: member {Victim + 1} owns {now.Values.Count(v => v == victimAddress):N0}");
                    }
                }
                var share = previous.Values.Count(v => v == victimAddress);
                Report.Row($"rebalancing as member {Victim + 1} rejoins: Up", upAgain.TotalMilliseconds, "ms", $"process start to three members Up; load {Load()}");
                Report.Row("  owners settled", lastChange.TotalMilliseconds, "ms", $"last node moved; it owns {share:N0} of {nodes:N0} nodes then; load {Load()}");
                resident = members.Select(m => m!.ResidentMiB()).ToArray();
                Report.Row("  resident memory per member then", resident.Where(r => !double.IsNaN(r)).DefaultIfEmpty().Average(), "MiB", $"members {string.Join(" / ", resident.Select(r => double.IsNaN(r) ? "exited" : r.ToString("N0")))} MiB");
                for (var i = 0; i < Members; i++)
                    if (members[i]!.Exited is { } gone) Console.WriteLine($"    member {i + 1} {gone}");
                Report.Summary($"cluster, {nodes:N0} nodes: rebalancing when a member joins", $"{(lastChange - upAgain).TotalSeconds:N1} s",
                    $"from Up to the last move; the member owns {share:N0} nodes ({100.0 * share / nodes:N0}%)");
            }
            finally
            {
                foreach (var member in members)
                    if (member is not null)
                        await member.DisposeAsync();
            }
        }
        finally
        {
            try { folder.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static string Load() => string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static double Quantile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>A long wait that says how far it got every 15 s, and may run out: said, and the run goes on.</summary>
    private static async Task Progress(Task<TimeSpan> wait, string what, Func<Task<string>> howFar)
    {
        var watch = Stopwatch.StartNew();
        while (await Task.WhenAny(wait, Task.Delay(TimeSpan.FromSeconds(15))) != wait)
        {
            try { Console.WriteLine($"    … {watch.Elapsed.TotalSeconds:N0} s, {what}: {await howFar()} (load {Load()})"); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException) { }
        }
        try
        {
            await wait;
        }
        catch (TimeoutException)
        {
            string far;
            try { far = await howFar(); } catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException) { far = "?"; }
            Console.WriteLine($"    NOT reached: {what} ({far})");
        }
    }

    private static Dictionary<string, string> Settings(string databaseUrl, IReadOnlyList<string> urls, int interval, (int Port, string Seeds)? cluster)
    {
        var settings = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = databaseUrl,
            ["ISEMS_ROUTER_IPS"] = string.Join(",", urls),
            ["POLL_INTERVAL_SECONDS"] = interval.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (cluster is { } c)
        {
            settings["CLUSTER_HOSTNAME"] = "127.0.0.1";
            settings["CLUSTER_PORT"] = c.Port.ToString();
            settings["CLUSTER_SEEDS"] = c.Seeds;
        }
        return settings;
    }

    /// <summary>Waits until every router has been fetched since <paramref name="before"/>; the time from <paramref name="started"/>.</summary>
    private static async Task<TimeSpan> FirstCycleAsync(IReadOnlyList<SimulatedNode> routers, int[] before, Stopwatch started, TimeSpan within)
    {
        var told = started.Elapsed;
        while (true)
        {
            var polled = Enumerable.Range(0, routers.Count).Count(i => routers[i].Requests > before[i]);
            if (polled == routers.Count) return started.Elapsed;
            // Progress, so a run cut short still says how far it got.
            if (started.Elapsed - told > TimeSpan.FromSeconds(15))
            {
                told = started.Elapsed;
                Console.WriteLine($"    … {started.Elapsed.TotalSeconds:N0} s: {polled:N0} of {routers.Count:N0} nodes polled");
            }
            if (started.Elapsed > within)
            {
                // Said and measured on: the rest of the figures still mean something with a node or two missing.
                var never = Enumerable.Range(0, routers.Count).Where(i => routers[i].Requests <= before[i]).Select(i => routers[i].NodeId).ToList();
                Console.WriteLine($"    NOT every node polled: {polled:N0} of {routers.Count:N0} after {within.TotalSeconds:N0} s; never: {string.Join(", ", never.Take(10))}");
                return started.Elapsed;
            }
            await Task.Delay(200);
        }
    }

    // Between two looks at a member: /nodes of 100,000 nodes is tens of MB, built anew after every change, and asking
    // for it four times a second would load the member being measured.
    private static TimeSpan _pause = TimeSpan.FromMilliseconds(250);

    private static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition()) return watch.Elapsed;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
            }
            if (watch.Elapsed > within) throw new TimeoutException($"not within {within.TotalSeconds:0} s");
            await Task.Delay(_pause);
        }
    }

    private static async Task<JsonNode?> ViewAsync(Member member) => JsonNode.Parse(await member.Client.GetStringAsync("/cluster"));

    private static async Task<int> UpCountAsync(Member member) =>
        (await ViewAsync(member))!["members"]!.AsArray().Count(m => (string?)m!["status"] == "Up");

    private static async Task<int> MemberCountAsync(Member member) => (await ViewAsync(member))!["members"]!.AsArray().Count;

    /// <summary>Each configured URL and each node id → the node's configured URL (a node is listed under its address, then its id).</summary>
    private static Dictionary<string, string> _canonical = new(StringComparer.Ordinal);

    /// <summary>Node (its configured URL) → the member /nodes names as its owner (null in one process).</summary>
    private static async Task<Dictionary<string, string?>> OwnersAsync(Member member)
    {
        using var stream = await member.Client.GetStreamAsync("/nodes");
        using var document = await JsonDocument.ParseAsync(stream);
        var owners = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var node in document.RootElement.GetProperty("nodes").EnumerateArray())
        {
            string? Text(string name) => node.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var key = (Text("url") is { } url && _canonical.TryGetValue(url, out var byUrl) ? byUrl : null)
                ?? (Text("nodeId") is { } id && _canonical.TryGetValue(id, out var byId) ? byId : null);
            if (key is not null) owners[key] = Text("member");
        }
        return owners;
    }

    /// <summary>
    /// Every fetch's time, each node's (by its configured URL) last fetch and first fetch after a mark, and who fetched
    /// for every <see cref="SampleEvery"/>th request, read from the kernel's socket table.
    /// </summary>
    private sealed class Ledger
    {
        private readonly SimulatedFleet _fleet;
        private readonly int[] _pids = new int[Members];
        private readonly ConcurrentQueue<(int Member, DateTime At)> _fetches = new();
        private readonly ConcurrentQueue<DateTime> _all = new();
        private readonly ConcurrentDictionary<string, DateTime> _lastFetch = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, DateTime> _firstAfter = new(StringComparer.Ordinal);
        private DateTime _mark = DateTime.MaxValue;
        private long _requests;

        public Ledger(SimulatedFleet fleet, int sampleEvery)
        {
            _fleet = fleet;
            SampleEvery = sampleEvery;
            fleet.NodeRequested += Record;
        }

        public int SampleEvery { get; }

        public Action<int> Attach(int member) => pid => Volatile.Write(ref _pids[member], pid);

        /// <summary>From now on the first fetch of each node is kept; each node's last fetch until now.</summary>
        public Dictionary<string, DateTime> MarkAndSnapshot(DateTime mark)
        {
            _mark = mark;
            return _lastFetch.Where(f => f.Value < mark).ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        }

        public bool FetchedAfterMark(string node) => _firstAfter.ContainsKey(node);

        public DateTime? FirstAfterMark(string node) => _firstAfter.TryGetValue(node, out var at) ? at : null;

        public double RateSince(DateTime from) => RateBetween(from, DateTime.UtcNow);

        public double RateBetween(DateTime from, DateTime to) =>
            to <= from ? double.NaN : _all.Count(t => t >= from && t < to) / (to - from).TotalSeconds;

        public int[] PerMember(DateTime from, DateTime to)
        {
            var counts = new int[Members];
            foreach (var f in _fetches)
                if (f.At >= from && f.At < to && f.Member >= 0)
                    counts[f.Member]++;
            return counts;
        }

        private void Record(SimulatedNode node, IPEndPoint client)
        {
            var now = DateTime.UtcNow;
            var url = node.LogUrl.ToString();
            _lastFetch[url] = now;
            _all.Enqueue(now);
            if (now >= _mark) _firstAfter.TryAdd(url, now);
            if (Interlocked.Increment(ref _requests) % SampleEvery != 0) return;
            var pids = _pids.Select(p => Volatile.Read(ref p)).ToArray();
            var owner = LoopbackPeers.OwnerOf(client, _fleet.BaseAddress.Port, pids.Where(p => p > 0).ToArray());
            _fetches.Enqueue((owner is { } pid ? Array.IndexOf(pids, pid) : -1, now));
        }
    }

    /// <summary>One collector process; its settings in the appsettings.json of its working directory (a fleet's addresses are too long for the environment).</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly Process _process;

        private Member(Process process, HttpClient client, Stopwatch started)
        {
            _process = process;
            Client = client;
            Started = started;
            ServingAfter = started.Elapsed;
        }

        public TimeSpan ServingAfter { get; }

        public HttpClient Client { get; }

        public Stopwatch Started { get; }

        public static async Task<Member> StartAsync(string folder, Dictionary<string, string> settings, Action<int>? launched = null)
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "appsettings.json"), JsonSerializer.Serialize(settings));
            var port = Ports.Free();
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(typeof(CollectorApp).Assembly.Location);
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add($"http://127.0.0.1:{port}");
            var started = Stopwatch.StartNew();
            var process = Process.Start(start)!;
            launched?.Invoke(process.Id);
            // What it says, the last lines kept: a member that exits during the run (downed, crashed) says why.
            var said = new ConcurrentQueue<string>();
            void Keep(object sender, DataReceivedEventArgs e)
            {
                if (e.Data is null) return;
                said.Enqueue(e.Data);
                while (said.Count > 30) said.TryDequeue(out _);
            }
            process.OutputDataReceived += Keep;
            process.ErrorDataReceived += Keep;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"the collector exited with {process.ExitCode}: {string.Join("\n", said)}");
                try
                {
                    if ((await client.GetAsync("/healthz")).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(100);
            }
            return new Member(process, client, started) { Said = said };
        }

        private ConcurrentQueue<string> Said { get; init; } = new();

        /// <summary>Null while it runs; else its exit code and last lines.</summary>
        public string? Exited => _process.HasExited ? $"exited with {_process.ExitCode}; its last lines: {string.Join(" | ", Said.TakeLast(8))}" : null;

        public double ResidentMiB() => _process.HasExited ? double.NaN :
            long.Parse(File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:"))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;

        public void Kill()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited) Kill();
            _process.Dispose();
            Client.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
