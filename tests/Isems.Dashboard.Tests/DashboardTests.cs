using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;
using Microsoft.Playwright;

namespace Isems.Dashboard.Tests;

/// <summary>
/// What an operator does with the dashboard, in Debian's chromium against the real host polling simulated nodes.
/// Every test also fails on a console error, an uncaught page error, a failed request or a request to another host.
/// </summary>
public sealed class DashboardTests(Browser browser) : IClassFixture<Browser>, IAsyncLifetime
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
        var context = await browser.Instance.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height } });
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
        await Assertions.Expect(page.Locator("#no-alert-rules")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Screenshot("node.png"), FullPage = true });
        watch.AssertClean();
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
