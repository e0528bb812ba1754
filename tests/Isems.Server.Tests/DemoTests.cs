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
}
