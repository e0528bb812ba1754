using System.Diagnostics;
using Isems.Testing;

namespace Isems.Server.Tests;

public sealed class DemoTests : ServerTestBase
{
    [Fact]
    public async Task The_demo_keeps_its_database_in_the_temporary_directory_not_where_it_runs()
    {
        var workingDirectory = Directory.CreateDirectory(Temp.File("project")).FullName;
        var temporary = Directory.CreateDirectory(Temp.File("tmp")).FullName;
        var port = Ports.Free();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory };
        foreach (var argument in new[] { typeof(Program).Assembly.Location, "--demo", "--urls", $"http://127.0.0.1:{port}" })
            start.ArgumentList.Add(argument);
        start.Environment["TMPDIR"] = temporary;
        start.Environment.Remove("DATABASE_URL");

        await using (var demo = await CollectorProcess.StartAsync(start, new Uri($"http://127.0.0.1:{port}")))
        {
            using var client = demo.CreateClient();
            await Eventually(async () => await HistoryCount(client, "Demo-Router-1") > 0, "the demo's lines stored", TimeSpan.FromSeconds(30));
            Assert.Contains(Path.Combine(temporary, "isems-collector-demo", "demo.db"), demo.Output);
        }

        Assert.True(File.Exists(Path.Combine(temporary, "isems-collector-demo", "demo.db")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(workingDirectory));
    }

    /// <summary>The reference page as Chromium renders it: the collector's operations, and none of the vendor's offers.</summary>
    [Fact]
    public async Task The_docs_page_shows_the_operations_for_operators_without_the_vendors_buttons()
    {
        await using var collector = await CollectorProcess.StartAsync(Settings(), Temp.Path);
        var start = new ProcessStartInfo("chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", $"--user-data-dir={Temp.File("chromium")}", "--virtual-time-budget=15000",
             "--dump-dom", new Uri(collector.BaseAddress, "/docs/").ToString()])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var chromium = Process.Start(start)!;
        var dom = chromium.StandardOutput.ReadToEndAsync();
        _ = chromium.StandardError.ReadToEndAsync();
        await chromium.WaitForExitAsync();
        var page = System.Text.RegularExpressions.Regex.Replace(await dom, "<(style|script)[^>]*>.*?</\\1>", "",
            System.Text.RegularExpressions.RegexOptions.Singleline);

        var text = string.Join(" ", System.Text.RegularExpressions.Regex.Replace(page, "<[^>]+>", " ")
            .Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries));

        Assert.Contains("<title>ISEMS collector API: operator reference</title>", page);
        Assert.Contains("Add a node: it is polled at once", text);
        Assert.Contains("Metrics", text);
        foreach (var offer in new[] { "Deploy", "Ask AI", "Generate SDK", "MCP" })
            Assert.DoesNotContain(offer, text, StringComparison.OrdinalIgnoreCase);
        // The "Powered by" link stays in the page, hidden by the collector's stylesheet.
        Assert.Contains("a[href*='utm_source=powered-by'] { display: none !important; }", await dom);
    }
}
