using System.Diagnostics;
using Isems.Actors.Cluster;
using Isems.Server.Configuration;
using Isems.Testing;
using Microsoft.Extensions.Configuration;

namespace Isems.Server.Tests;

/// <summary>CLUSTER_HOSTNAME, CLUSTER_PORT and CLUSTER_SEEDS (SPEC §9): how they are read, and the refusal on SQLite.</summary>
public sealed class ClusterSettingsTests
{
    private static IReadOnlyList<string> Problems(params (string Key, string Value)[] settings) =>
        ConfigurationCheck.Problems(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    private static CollectorOptions Options(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build().Get<CollectorOptions>() ?? new CollectorOptions();

    [Fact]
    public void Without_cluster_settings_the_collector_is_one_process() => Assert.Null(Options().Cluster);

    [Fact]
    public void The_three_settings_make_this_members_address_and_the_seeds()
    {
        var cluster = Options(("CLUSTER_HOSTNAME", "10.0.0.5"), ("CLUSTER_PORT", "4055"),
            ("CLUSTER_SEEDS", "10.0.0.5:4055, 10.0.0.6:4053 ,node-c.local:4053")).Cluster;
        Assert.NotNull(cluster);
        Assert.Equal("akka.tcp://isems@10.0.0.5:4055", cluster.SelfAddress);
        Assert.Equal(["akka.tcp://isems@10.0.0.5:4055", "akka.tcp://isems@10.0.0.6:4053", "akka.tcp://isems@node-c.local:4053"],
            cluster.SeedAddresses);
    }

    [Fact]
    public void A_member_with_no_seeds_forms_a_cluster_of_its_own() =>
        Assert.Equal(["akka.tcp://isems@127.0.0.1:4053"], Options(("CLUSTER_PORT", "4053")).Cluster!.SeedAddresses);

    [Theory]
    [InlineData("CLUSTER_PORT", "http", "CLUSTER_PORT='http'")]
    [InlineData("CLUSTER_PORT", "70000", "CLUSTER_PORT='70000'")]
    [InlineData("CLUSTER_SEEDS", "10.0.0.5", "CLUSTER_SEEDS entry '10.0.0.5' is not host:port")]
    [InlineData("CLUSTER_SEEDS", "10.0.0.5:x", "CLUSTER_SEEDS entry '10.0.0.5:x'")]
    [InlineData("CLUSTER_HOSTNAME", "http://10.0.0.5", "CLUSTER_HOSTNAME='http://10.0.0.5'")]
    public void A_wrong_cluster_setting_is_named_with_what_to_change(string key, string value, string expected)
    {
        var problems = Problems((key, value), ("DATABASE_URL", "postgresql://isems:secret@db:5432/isems"));
        Assert.Contains(problems, p => p.Contains(expected));
    }

    [Theory]
    [InlineData("CLUSTER_HOSTNAME", "10.0.0.5")]
    [InlineData("CLUSTER_PORT", "4053")]
    [InlineData("CLUSTER_SEEDS", "10.0.0.5:4053,10.0.0.6:4053")]
    public void A_cluster_on_sqlite_is_refused(string key, string value)
    {
        Assert.Contains("A cluster requires PostgreSQL", Assert.Single(Problems((key, value))));
        Assert.Contains("A cluster requires PostgreSQL", Assert.Single(Problems((key, value), ("DATABASE_URL", "sqlite:///data/isems.db"))));
    }

    [Fact]
    public void A_cluster_on_postgresql_is_accepted() =>
        Assert.Empty(Problems(("CLUSTER_HOSTNAME", "10.0.0.5"), ("CLUSTER_PORT", "4053"),
            ("DATABASE_URL", "postgresql://isems:secret@db:5432/isems")));

    [Fact]
    public async Task The_collector_refuses_a_cluster_on_sqlite_with_exit_code_2_before_listening()
    {
        using var temp = new TempDirectory();
        var port = Ports.Free();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = temp.Path,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["CLUSTER_HOSTNAME"] = "127.0.0.1";
        start.Environment["CLUSTER_PORT"] = Ports.Free().ToString();
        start.Environment["DATABASE_URL"] = "sqlite:///isems.db";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("A cluster requires PostgreSQL", await stderr);
        await stdout;
        Assert.False(File.Exists(Path.Combine(temp.Path, "isems.db")), "nothing was started: no database file was made");
    }
}
