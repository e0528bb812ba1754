using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using Microsoft.Playwright;

namespace Isems.Dashboard.Tests;

/// <summary>
/// What an operator does with the dashboard, in Debian's chromium against the real host polling simulated nodes.
/// Every test also fails on a console error, an uncaught page error, a failed request or a request to another host.
/// </summary>
public sealed class DashboardTests(Browser browser, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<Browser>, IAsyncLifetime
{
    private const string Token = "dashboard-test-token";
    private readonly TempDirectory _temp = new();
    private readonly SimulatedFleet _fleet = SimulatedFleet.Start();
    private readonly List<IAsyncDisposable> _cleanup = [];

    private DashboardHost StartHost(IEnumerable<SimulatedNode> nodes, Action<Dictionary<string, string>>? more = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = $"sqlite:///{_temp.File("isems.db")}",
            ["ISEMS_ROUTER_IPS"] = string.Join(",", nodes.Select(n => n.LogUrl)),
            ["POLL_INTERVAL_SECONDS"] = "10",
            ["POLL_TIMEOUT_SECONDS"] = "2",
            ["POLL_RETRIES"] = "0",
            ["ISEMS_ADMIN_TOKEN"] = Token,
        };
        more?.Invoke(settings);
        var host = new DashboardHost(settings);
        _cleanup.Add(host);
        return host;
    }

    private async Task<(IPage Page, PageWatch Watch)> OpenAsync(DashboardHost host, int width = 1280, int height = 900)
    {
        // A viewer in Berlin: the pages must show times in the viewer's zone, not the collector's (UTC here).
        var context = await browser.Instance.NewContextAsync(new()
        {
            ViewportSize = new() { Width = width, Height = height }, TimezoneId = "Europe/Berlin", Locale = "de-DE",
        });
        _cleanup.Add(context);
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        return (page, new PageWatch(page, host.BaseAddress));
    }

    private static Task Interactive(IPage page) =>
        Assertions.Expect(page.Locator("main[data-interactive=true]")).ToBeVisibleAsync();

    private static string Url(DashboardHost host, string path) => new Uri(host.BaseAddress, path).ToString();

    private static async Task<JsonArray> NodesAsync(DashboardHost host)
    {
        using var http = host.Http();
        return JsonNode.Parse(await http.GetStringAsync("/nodes"))!["nodes"]!.AsArray();
    }

    private static async Task WaitUntilPolledAsync(DashboardHost host, int nodes)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await NodesAsync(host)).Count(n => n!["state"]!.GetValue<string>() == "up" && n["linesStored"]!.GetValue<long>() > 0) < nodes)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{nodes} nodes were not polled within 30 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task The_fleet_lists_every_node_and_a_click_draws_the_history_the_api_answers()
    {
        var nodes = Enumerable.Range(1, 3).Select(i => _fleet.AddNode($"Roof-{i}", NodeKind.Router, historyLines: 120)).ToList();
        var host = StartHost(nodes);
        await WaitUntilPolledAsync(host, 3);
        var (page, watch) = await OpenAsync(host);

        await page.GotoAsync(Url(host, "/"));
        var rows = page.Locator("#fleet tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        foreach (var node in nodes)
        {
            var row = page.Locator($"#fleet tbody tr[data-node='{node.NodeId}']");
            await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("● up");
            await Assertions.Expect(row.Locator("td.volt")).ToContainTextAsync("V");
            await Assertions.Expect(row.Locator("td.soc")).ToContainTextAsync("%");
            await Assertions.Expect(row.Locator("td.temp")).ToContainTextAsync("°C");
            await Assertions.Expect(row.Locator("td.seen")).ToContainTextAsync("ago");
        }
        await Interactive(page);
        await page.ScreenshotAsync(new() { Path = Screenshot("fleet.png"), FullPage = true });

        // Sorting by charge puts the rows in the order of their state of charge.
        await page.Locator("#fleet th button", new() { HasText = "Charge" }).ClickAsync();
        await Assertions.Expect(page.Locator("#fleet th[aria-sort=ascending]")).ToContainTextAsync("Charge");
        var charges = (await page.Locator("#fleet td.soc").AllInnerTextsAsync()).Select(t => double.Parse(t.Split('\u2009')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(charges.Order().ToList(), charges);
        // Filtering keeps the matching rows only.
        await page.Locator("#fleet-filter").FillAsync("Roof-2");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await page.Locator("#fleet-filter").FillAsync("");
        await Assertions.Expect(rows).ToHaveCountAsync(3);

        await page.Locator("#fleet a", new() { HasText = "Roof-2" }).ClickAsync();
        await page.WaitForURLAsync("**/ui/node/Roof-2");
        using var http = host.Http();
        var history = JsonNode.Parse(await http.GetStringAsync("/measurements/Roof-2/history?bucket=5m"))!["points"]!.AsArray();
        Assert.InRange(history.Count, 20, 30); // 120 lines a minute apart, in 5-minute buckets

        // One marker per point of the average battery voltage (the third series; the legend's own markers are outside the plot).
        var markers = page.Locator("#chart-voltage g.rz-line-series.rz-series-2 g.rz-marker circle");
        await Assertions.Expect(markers).ToHaveCountAsync(history.Count);
        await Assertions.Expect(page.Locator("#status-timeline .lane")).Not.ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#poll-health")).ToContainTextAsync("Lines stored");
        // The collector evaluates alerts (SPEC §8): an empty fleet has none firing and none resolved.
        await Assertions.Expect(page.Locator("#no-alerts")).ToContainTextAsync("No alert is firing");
        await page.ScreenshotAsync(new() { Path = Screenshot("node.png"), FullPage = true });

        // The map draws every node with a position, offline: no tile is asked of any server.
        await page.Locator("header nav a", new() { HasText = "Map" }).ClickAsync();
        await Assertions.Expect(page.Locator("#map a.marker")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("#map image")).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Screenshot("map.png"), FullPage = true });
        watch.AssertClean();
    }

    [Fact]
    public async Task A_node_added_through_the_form_appears_in_the_fleet_and_is_polled_and_mistakes_show_beside_their_fields()
    {
        var roof = _fleet.AddNode("Roof-1", NodeKind.Router, historyLines: 30);
        var spare = _fleet.AddNode("Spare", NodeKind.Router, historyLines: 30);
        var host = StartHost([roof]);
        var (page, watch) = await OpenAsync(host);

        await page.GotoAsync(Url(host, "/ui/manage"));
        await page.Locator("#token").FillAsync("not-the-token");
        await page.Locator("#token-form button[type=submit]").ClickAsync();
        await Assertions.Expect(page.Locator("#token-error")).ToContainTextAsync("token");
        await page.Locator("#token").FillAsync(Token);
        await page.Locator("#token-form button[type=submit]").ClickAsync();
        await Assertions.Expect(page.Locator("#add-node")).ToBeVisibleAsync();
        // The configured node is registered under its address (ISEMS_ROUTER_IPS names no id).
        await Assertions.Expect(page.Locator("#registered tbody tr")).ToHaveCountAsync(1);
        // The token is kept for this tab only: in session storage, not in local storage or a cookie.
        Assert.Equal(Token, await page.EvaluateAsync<string>("sessionStorage.getItem('isems-admin-token')"));
        Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length"));
        Assert.DoesNotContain(await page.Context.CookiesAsync(), cookie => cookie.Value.Contains(Token));

        // Two mistakes at once: each message stands beside its own field.
        await page.Locator("#node-id").FillAsync("Spare");
        await page.Locator("#node-url").FillAsync("ftp://10.0.0.1/log");
        await page.Locator("#node-interval").FillAsync("5");
        await page.Locator("#add-node button[type=submit]").ClickAsync();
        var urlField = page.Locator("#add-node .field").Filter(new() { Has = page.Locator("#node-url") });
        var intervalField = page.Locator("#add-node .field").Filter(new() { Has = page.Locator("#node-interval") });
        await Assertions.Expect(urlField.Locator(".field-error")).ToContainTextAsync("http");
        await Assertions.Expect(intervalField.Locator(".field-error")).ToContainTextAsync("10 to 86400");
        await Assertions.Expect(page.Locator("#add-node .field").Filter(new() { Has = page.Locator("#node-id") }).Locator(".field-error")).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Screenshot("manage.png"), FullPage = true });
        using (var http = host.Http())
            Assert.DoesNotContain("Spare", await http.GetStringAsync("/nodes"));

        await page.Locator("#node-url").FillAsync(spare.LogUrl.ToString());
        await page.Locator("#node-interval").FillAsync("");
        await page.Locator("#add-node button[type=submit]").ClickAsync();
        await Assertions.Expect(page.Locator("#manage-message")).ToContainTextAsync("Spare is added");
        await Assertions.Expect(page.Locator("#add-node .field-error")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#registered tr[data-node='Spare']")).ToBeVisibleAsync();

        await page.Locator("header nav a", new() { HasText = "Fleet" }).ClickAsync();
        var row = page.Locator("#fleet tbody tr[data-node='Spare']");
        await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("● up");
        await Assertions.Expect(row.Locator("td.volt")).ToContainTextAsync("V");
        Assert.True(spare.Requests > 0, "the added node was not polled");

        // Back on the management page the token is still there (this tab's session storage): poll, edit, disable, remove.
        await page.Locator("header nav a", new() { HasText = "Manage nodes" }).ClickAsync();
        var managed = page.Locator("#registered tr[data-node='Spare']");
        await managed.Locator("button", new() { HasText = "Poll now" }).ClickAsync();
        await Assertions.Expect(page.Locator("#manage-message")).ToContainTextAsync("Polled Spare");
        await managed.Locator("button", new() { HasText = "Edit" }).ClickAsync();
        await page.Locator("#node-interval-edit").FillAsync("60");
        await page.Locator("#edit-node button[type=submit]").ClickAsync();
        await Assertions.Expect(page.Locator("#manage-message")).ToContainTextAsync("Spare is saved");
        await Assertions.Expect(managed).ToContainTextAsync("60 s");
        await managed.Locator("button", new() { HasText = "Disable" }).ClickAsync();
        await Assertions.Expect(managed.Locator(".badge")).ToContainTextAsync("disabled");
        await managed.Locator("button", new() { HasText = "Remove" }).ClickAsync();
        await page.Locator("#registered tr.edit button.danger", new() { HasText = "Remove" }).ClickAsync();
        await Assertions.Expect(page.Locator("#manage-message")).ToContainTextAsync("Spare is removed");
        await Assertions.Expect(managed).ToHaveCountAsync(0);
        using (var http = host.Http())
        {
            using var gone = new HttpRequestMessage(HttpMethod.Get, "/admin/nodes/Spare");
            gone.Headers.Authorization = new("Bearer", Token);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.SendAsync(gone)).StatusCode);
        }
        watch.AssertClean();
    }

    [Fact]
    public async Task A_node_with_a_firing_alert_is_marked_on_the_fleet_page_and_leads_to_its_alerts()
    {
        // Three lines reporting battery low (status 0x980): the second fires BatteryLow. The other node's lines report nothing.
        var low = _fleet.AddNode("Low-Battery", NodeKind.Router, historyLines: 1);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        low.ReplaceLog(Enumerable.Range(0, 3).Select(i =>
        {
            var line = SimulatedLines.Router("Low-Battery", now - 180 + i * 60);
            return line[..(line.LastIndexOf(';') + 1)] + "980";
        }));
        var fine = _fleet.AddNode("Fine", NodeKind.Router, historyLines: 1);
        fine.ReplaceLog(Enumerable.Range(0, 3).Select(i =>
        {
            var line = SimulatedLines.Router("Fine", now - 180 + i * 60);
            return line[..(line.LastIndexOf(';') + 1)] + "900";
        }));
        var host = StartHost([low, fine]);
        await WaitUntilPolledAsync(host, 2);
        var (page, watch) = await OpenAsync(host);

        await page.GotoAsync(Url(host, "/"));
        var row = page.Locator("#fleet tbody tr[data-node='Low-Battery']");
        await Assertions.Expect(row.Locator("td.alerts")).ToContainTextAsync("BatteryLow");
        await Assertions.Expect(row).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\balerting\b"));
        await Assertions.Expect(row.Locator("td.alerts .alert-mark")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("severity-critical"));
        await Assertions.Expect(page.Locator("#fleet tbody tr[data-node='Fine'] td.alerts")).ToBeEmptyAsync();
        await Assertions.Expect(page.Locator("#fleet tbody tr[data-node='Fine']")).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex("alerting"));
        await Assertions.Expect(page.Locator("#fleet-alerting")).ToContainTextAsync("1 node has a firing alert");
        await Interactive(page);
        await page.ScreenshotAsync(new() { Path = Screenshot("fleet-alert.png"), FullPage = true });

        // The mark leads to the node's page, which lists the alert.
        await row.Locator("td.alerts a").ClickAsync();
        await Assertions.Expect(page.Locator("table.alerts tr.firing")).ToContainTextAsync("BatteryLow");
        watch.AssertClean();
    }

    [Fact]
    public async Task An_empty_fleet_says_how_to_add_a_node_and_an_unknown_node_says_so()
    {
        var host = StartHost([]);
        var (page, watch) = await OpenAsync(host);

        await page.GotoAsync(Url(host, "/"));
        await Assertions.Expect(page.Locator("#empty-fleet")).ToContainTextAsync("Manage nodes");
        await Assertions.Expect(page.Locator("#empty-fleet")).ToContainTextAsync("ISEMS_ROUTER_IPS");
        await Interactive(page);

        await page.GotoAsync(Url(host, "/ui/node/Nobody-Here"));
        await Assertions.Expect(page.Locator("#unknown-node")).ToContainTextAsync("Unknown node");

        await page.GotoAsync(Url(host, "/ui/map"));
        await Assertions.Expect(page.Locator("#no-positions")).ToBeVisibleAsync();
        await page.GotoAsync(Url(host, "/ui/alerts"));
        // The collector evaluates alerts (SPEC §8): an empty fleet has none firing and none resolved.
        await Assertions.Expect(page.Locator("#no-alerts")).ToContainTextAsync("No alert is firing");
        await Interactive(page);
        watch.AssertClean();
    }

    [Fact]
    public async Task A_node_without_rows_shows_its_poll_health_and_a_node_going_down_shows_without_a_reload()
    {
        var roof = _fleet.AddNode("Roof-1", NodeKind.Router, historyLines: 30);
        var silent = _fleet.AddNode("Silent", NodeKind.Router, historyLines: 30);
        silent.Fault = NodeFault.ServerError;
        var host = StartHost([roof]);
        using (var http = host.Http())
        {
            using var add = new HttpRequestMessage(HttpMethod.Post, "/admin/nodes")
            {
                Content = new StringContent($$"""{"id":"Silent","url":"{{silent.LogUrl}}"}""", System.Text.Encoding.UTF8, "application/json"),
            };
            add.Headers.Authorization = new("Bearer", Token);
            (await http.SendAsync(add)).EnsureSuccessStatusCode();
        }
        await WaitUntilPolledAsync(host, 1);
        var (page, watch) = await OpenAsync(host);

        // Registered, polled, failing, never stored a row: the page shows why instead of failing.
        await page.GotoAsync(Url(host, "/ui/node/Silent"));
        await Assertions.Expect(page.Locator("#no-rows")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#poll-health")).ToContainTextAsync("500");
        await Assertions.Expect(page.Locator("#no-history")).ToBeVisibleAsync();

        await page.GotoAsync(Url(host, "/"));
        var badge = page.Locator("#fleet tbody tr[data-node='Roof-1'] .badge");
        await Assertions.Expect(badge).ToHaveTextAsync("● up");
        await Interactive(page);
        await page.EvaluateAsync("window.sameDocument = true");

        roof.Fault = NodeFault.Reset; // the next poll (every 10 s) fails, and with no retries the node is down
        await Assertions.Expect(badge).ToHaveTextAsync("▼ down", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#fleet tbody tr[data-node='Roof-1'] td.err")).Not.ToBeEmptyAsync();
        Assert.True(await page.EvaluateAsync<bool>("window.sameDocument === true"), "the page was reloaded");
        watch.AssertClean();
    }

    [Fact]
    public async Task At_a_phones_width_nothing_is_wider_than_the_screen()
    {
        var nodes = Enumerable.Range(1, 2).Select(i => _fleet.AddNode($"Pole-{i}", NodeKind.Router, historyLines: 60)).ToList();
        var host = StartHost(nodes);
        await WaitUntilPolledAsync(host, 2);
        var (page, watch) = await OpenAsync(host, width: 360, height: 740);

        foreach (var path in new[] { "/", "/ui/node/Pole-1", "/ui/map", "/ui/manage" })
        {
            await page.GotoAsync(Url(host, path));
            await Interactive(page);
            if (path == "/ui/node/Pole-1")
            {
                await Assertions.Expect(page.Locator("#chart-voltage g.rz-line-series circle").First).ToBeVisibleAsync();
                await page.ScreenshotAsync(new() { Path = Screenshot("node-phone.png"), FullPage = true });
            }
            if (path == "/") await page.ScreenshotAsync(new() { Path = Screenshot("fleet-phone.png"), FullPage = true });
            var width = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
            Assert.True(width <= 360, $"{path} is {width} px wide at a 360 px viewport");
        }
        await Assertions.Expect(page.Locator("#token")).ToBeVisibleAsync();
        watch.AssertClean();
    }

    [Fact]
    public async Task A_first_visit_loads_at_most_300_KB_over_the_wire()
    {
        var nodes = Enumerable.Range(1, 4).Select(i => _fleet.AddNode($"Mast-{i}", NodeKind.Router, historyLines: 120)).ToList();
        var host = StartHost(nodes);
        await WaitUntilPolledAsync(host, 4);

        foreach (var path in new[] { "/", "/ui/node/Mast-1" })
        {
            var (page, watch) = await OpenAsync(host); // a fresh context: nothing cached
            var loaded = new List<(string Url, long Bytes, string? Encoding)>();
            page.RequestFinished += async (_, request) =>
            {
                var sizes = await request.SizesAsync();
                var response = await request.ResponseAsync();
                var encoding = response is null ? null : await response.HeaderValueAsync("content-encoding");
                lock (loaded) loaded.Add((request.Url, sizes.ResponseBodySize + sizes.ResponseHeadersSize, encoding));
            };
            // The circuit's first render batches come over its WebSocket: counted too. The browser reports frames
            // after permessage-deflate has undone its compression, so they are compressed here the way that extension
            // does it (one deflate stream per direction, flushed after each message) when the handshake agreed on it.
            var cdp = await page.Context.NewCDPSessionAsync(page);
            await cdp.SendAsync("Network.enable");
            var extensions = "";
            cdp.Event("Network.webSocketHandshakeResponseReceived").OnEvent += (_, e) =>
            {
                if (e?.GetProperty("response").GetProperty("headers") is { } headers)
                    foreach (var header in headers.EnumerateObject())
                        if (header.Name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase)) extensions = header.Value.GetString() ?? "";
            };
            var frames = new SocketBytes();
            page.WebSocket += (_, socket) => socket.FrameReceived += (_, frame) =>
                frames.Add(frame.Binary ?? System.Text.Encoding.UTF8.GetBytes(frame.Text ?? ""));
            await page.GotoAsync(Url(host, path), new() { WaitUntil = WaitUntilState.NetworkIdle });
            await Interactive(page);
            if (path != "/") await Assertions.Expect(page.Locator("#chart-voltage g.rz-line-series circle").First).ToBeVisibleAsync();
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);

            List<(string Url, long Bytes, string? Encoding)> all;
            lock (loaded) all = loaded.ToList();
            var deflate = extensions.Contains("permessage-deflate", StringComparison.OrdinalIgnoreCase);
            var socket = deflate ? frames.Deflated : frames.Raw;
            var total = all.Sum(r => r.Bytes) + socket;
            output.WriteLine($"first load of {path}: {total / 1024.0:0.0} KiB: {all.Count} requests (bodies as sent, with headers) " +
                             $"and {socket / 1024.0:0.0} KiB of WebSocket frames ({frames.Raw / 1024.0:0.0} KiB before compression; extensions agreed: '{extensions}')");
            foreach (var (url, bytes, encoding) in all.OrderByDescending(r => r.Bytes))
                output.WriteLine($"  {bytes / 1024.0,7:0.0} KiB  {encoding ?? "identity",-8} {new Uri(url).PathAndQuery}");
            Assert.True(total <= 300 * 1024, $"the first load of {path} is {total / 1024.0:0.0} KiB");
            watch.AssertClean();
        }
    }

    /// <summary>WebSocket payloads received, and what they come to through one deflate stream flushed per message.</summary>
    private sealed class SocketBytes
    {
        private readonly MemoryStream _compressed = new();
        private readonly System.IO.Compression.DeflateStream _deflate;
        public long Raw { get; private set; }

        public SocketBytes() => _deflate = new(_compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true);

        public void Add(byte[] payload)
        {
            lock (this)
            {
                Raw += payload.Length;
                _deflate.Write(payload);
                _deflate.Flush();
            }
        }

        public long Deflated
        {
            get { lock (this) return _compressed.Length; }
        }
    }

    private static string Screenshot(string name)
    {
        // ISEMS_SCREENSHOTS=1 writes them into the repository's docs/screenshots (the README shows those).
        var folder = Environment.GetEnvironmentVariable("ISEMS_SCREENSHOTS") == "1"
            ? Repository.File("docs", "screenshots")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_cleanup)) await item.DisposeAsync();
        await _fleet.DisposeAsync();
        _temp.Dispose();
    }
}
