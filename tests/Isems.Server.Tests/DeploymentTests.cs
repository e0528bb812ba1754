using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Isems.Server.Configuration;
using Isems.Storage;
using Isems.Testing;
using Microsoft.Extensions.Configuration;
using MQTTnet;
using YamlDotNet.RepresentationModel;

namespace Isems.Server.Tests;

/// <summary>
/// The files in docker/ checked with what runs on this machine: systemd's own verifier, the published binary run as
/// the unit says, the compose file's settings through the collector's own check, and Mosquitto with the shipped
/// configuration. (No Docker engine runs here, so the image itself is not built in the suite.)
/// </summary>
public sealed partial class DeploymentTests : ServerTestBase
{
    private static readonly string Unit = Repository.File("docker", "systemd", "isems-collector.service");

    [Fact]
    public async Task Systemd_finds_nothing_wrong_with_the_unit()
    {
        var verify = new ProcessStartInfo("systemd-analyze", ["verify", Unit]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(verify)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        // systemd-analyze exits 0 on settings it ignores; a word from it is a defect.
        Assert.Equal(0, process.ExitCode);
        Assert.Equal("", output.Trim());
    }

    [Fact]
    public async Task The_published_binary_runs_as_the_unit_says_stops_cleanly_on_its_signal_and_comes_back_after_a_crash()
    {
        var unit = SystemdUnit.Read(Unit);
        var publish = Temp.File("opt");
        await RunAsync("dotnet", ["publish", Repository.File("src", "Isems.Server", "Isems.Server.csproj"), "--no-build", "-c", Configuration, "-o", publish]);
        var state = Directory.CreateDirectory(Temp.File("state")).FullName;
        var etc = Directory.CreateDirectory(Temp.File("etc")).FullName;
        File.Copy(Repository.File("hocon", "akka.conf"), Path.Combine(etc, "akka.conf"));
        string Local(string value) => value
            .Replace("/opt/isems-collector", publish).Replace("/var/lib/isems-collector", state).Replace("/etc/isems-collector", etc);

        var node = Fleet.AddNode("Pi-Roof", historyLines: 20);
        var port = Ports.Free();
        // The operator's settings file; systemd reads it after the unit's Environment= lines, so it may override them.
        await File.WriteAllLinesAsync(Local(unit.EnvironmentFile.TrimStart('-')),
            [$"ISEMS_ROUTER_IPS={node.LogUrl}", $"ASPNETCORE_URLS=http://127.0.0.1:{port}", "POLL_INTERVAL_SECONDS=10"]);

        ProcessStartInfo Service()
        {
            var exec = unit.ExecStart.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Local).ToArray();
            var start = new ProcessStartInfo(exec[0], exec[1..]) { WorkingDirectory = Local(unit.WorkingDirectory) };
            foreach (var (key, value) in unit.Environment) start.Environment[key] = Local(value);
            foreach (var line in File.ReadAllLines(Local(unit.EnvironmentFile.TrimStart('-'))))
                start.Environment[line[..line.IndexOf('=')]] = line[(line.IndexOf('=') + 1)..];
            return start;
        }

        await using (var service = await CollectorProcess.StartAsync(Service(), new Uri($"http://127.0.0.1:{port}")))
        {
            using var client = service.CreateClient();
            await Eventually(async () => (await client.GetAsync("/readyz")).IsSuccessStatusCode, "ready");
            await Eventually(async () => await HistoryCount(client, "Pi-Roof") == 20, "the node's lines stored");
            Assert.Equal("SIGTERM", unit.KillSignal);
            var exit = await service.TerminateAsync(TimeSpan.FromSeconds(unit.TimeoutStopSeconds));
            Assert.Equal(0, exit); // Restart=on-failure: a clean stop is not restarted
        }
        Assert.True(File.Exists(Path.Combine(state, "isems.db")), "the database is in the state directory");

        await using (var crashing = await CollectorProcess.StartAsync(Service(), new Uri($"http://127.0.0.1:{port}")))
        {
            crashing.Kill();
            Assert.NotEqual(0, crashing.ExitCode); // on-failure: systemd starts it again, as this test does now
        }
        Assert.Equal("on-failure", unit.Restart);
        await using var restarted = await CollectorProcess.StartAsync(Service(), new Uri($"http://127.0.0.1:{port}"));
        using var again = restarted.CreateClient();
        Assert.Equal(20, await HistoryCount(again, "Pi-Roof"));
    }

    [Fact]
    public void The_compose_file_gives_the_collector_settings_it_accepts_wired_to_its_broker_and_database()
    {
        var compose = new YamlStream();
        using (var reader = new StreamReader(Repository.File("docker", "docker-compose.yml"))) compose.Load(reader);
        var services = (YamlMappingNode)((YamlMappingNode)compose.Documents[0].RootNode)["services"];
        var collector = (YamlMappingNode)services["collector"];
        var environment = ((YamlMappingNode)collector["environment"]).Children
            .ToDictionary(kv => kv.Key.ToString(), kv => Interpolate(kv.Value.ToString()));

        var settings = new ConfigurationBuilder().AddInMemoryCollection(environment!).Build();
        Assert.Empty(ConfigurationCheck.Problems(settings));

        var database = new Npgsql.NpgsqlConnectionStringBuilder(DatabaseTarget.Parse(environment["DATABASE_URL"], Temp.Path).ConnectionString);
        var postgres = (YamlMappingNode)services["postgres"];
        var postgresEnvironment = ((YamlMappingNode)postgres["environment"]).Children.ToDictionary(kv => kv.Key.ToString(), kv => Interpolate(kv.Value.ToString()));
        Assert.Equal("postgres", database.Host);
        Assert.Equal(postgresEnvironment["POSTGRES_USER"], database.Username);
        Assert.Equal(postgresEnvironment["POSTGRES_PASSWORD"], database.Password);
        Assert.Equal(postgresEnvironment["POSTGRES_DB"], database.Database);
        Assert.True(services.Children.ContainsKey(environment["MQTT_SERVER"]), "MQTT_SERVER names the compose file's broker");
        var collectorVolumes = ((YamlSequenceNode)collector["volumes"]).Select(v => v.ToString()).ToList();
        Assert.Contains(collectorVolumes, v => v.EndsWith(":/data", StringComparison.Ordinal));
        var mosquittoVolumes = ((YamlSequenceNode)((YamlMappingNode)services["mosquitto"])["volumes"]).Select(v => v.ToString()).ToList();
        Assert.Contains("./mosquitto.conf:/mosquitto/config/mosquitto.conf:ro", mosquittoVolumes);
    }

    [Fact]
    public void The_compose_cluster_profile_runs_three_members_the_collector_accepts_each_listing_every_member_as_a_seed()
    {
        var services = ComposeServices();
        var cluster = Enabled(services, "cluster");
        var single = Enabled(services, "single");
        var members = cluster.Where(s => s.Value.Children.ContainsKey("build")).ToList();

        // Either profile runs the broker and the database; the single collector and the members never run together.
        Assert.Equal(["collector-1", "collector-2", "collector-3"], members.Select(m => m.Key).Order());
        Assert.Equal(["collector"], single.Where(s => s.Value.Children.ContainsKey("build")).Select(s => s.Key));
        Assert.Contains("postgres", cluster.Keys);
        Assert.Contains("mosquitto", cluster.Keys);

        var settings = members.ToDictionary(m => m.Key, m => ComposeEnvironment(m.Value));
        var addresses = new List<(string Host, int Port)>();
        foreach (var (name, environment) in settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(environment!).Build();
            Assert.Empty(ConfigurationCheck.Problems(configuration));
            var options = new CollectorOptions();
            configuration.Bind(options);
            var member = Assert.IsType<Isems.Actors.Cluster.ClusterSettings>(options.Cluster);
            Assert.Equal(name, member.Hostname); // reachable by its service name on the compose network
            addresses.Add((member.Hostname, member.Port));
            var database = new Npgsql.NpgsqlConnectionStringBuilder(DatabaseTarget.Parse(environment["DATABASE_URL"], Temp.Path).ConnectionString);
            Assert.Equal("postgres", database.Host);
            Assert.Contains(environment["MQTT_SERVER"], cluster.Keys);
            var dependsOn = (YamlMappingNode)members.Single(m => m.Key == name).Value["depends_on"];
            Assert.Equal("service_healthy", ((YamlMappingNode)dependsOn["postgres"])["condition"].ToString());
        }
        foreach (var (_, environment) in settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(environment!).Build();
            var options = new CollectorOptions();
            configuration.Bind(options);
            Assert.Equal(addresses.Order(), options.Cluster!.Seeds.Order()); // every member is a seed
        }
        Assert.Single(settings.Values.Select(e => e["DATABASE_URL"]).Distinct());
        Assert.Single(settings.Values.Select(e => e["ISEMS_ROUTER_IPS"]).Distinct());
        Assert.Equal(3, settings.Values.Select(e => e["MQTT_CLIENT_ID"]).Distinct().Count());
        var hostPorts = members.SelectMany(m => ((YamlSequenceNode)m.Value["ports"]).Select(p => p.ToString().Split(':')[0])).ToList();
        Assert.Equal(hostPorts.Distinct(), hostPorts);
        Assert.DoesNotContain(((YamlSequenceNode)services["collector"]["ports"]).Select(p => p.ToString().Split(':')[0]), hostPorts.Contains);
    }

    private static YamlMappingNode ComposeServices()
    {
        var compose = new YamlStream();
        using (var reader = new StreamReader(Repository.File("docker", "docker-compose.yml"))) compose.Load(reader);
        return (YamlMappingNode)((YamlMappingNode)compose.Documents[0].RootNode)["services"];
    }

    /// <summary>The services <c>docker compose --profile {profile} up</c> starts: those without profiles and those of the profile.</summary>
    private static Dictionary<string, YamlMappingNode> Enabled(YamlMappingNode services, string profile) => services.Children
        .Where(s => !((YamlMappingNode)s.Value).Children.TryGetValue("profiles", out var profiles) ||
                    ((YamlSequenceNode)profiles).Any(p => p.ToString() == profile))
        .ToDictionary(s => s.Key.ToString(), s => (YamlMappingNode)s.Value);

    private static Dictionary<string, string> ComposeEnvironment(YamlMappingNode service) =>
        ((YamlMappingNode)service["environment"]).Children.ToDictionary(kv => kv.Key.ToString(), kv => Interpolate(kv.Value.ToString()));

    [Fact]
    public void The_dockerfile_copies_what_exists_runs_the_collector_unprivileged_and_keeps_its_data_in_the_volume()
    {
        var lines = File.ReadAllLines(Repository.File("docker", "Dockerfile")).Select(l => l.Trim()).ToList();

        foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from")))
        {
            var sources = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
            Assert.All(sources, source => Assert.True(
                File.Exists(Repository.File(source)) || Directory.Exists(Repository.File(source)), $"{copy}: {source} does not exist"));
        }
        Assert.Contains(lines, l => l == "USER app");
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"" + typeof(Program).Assembly.GetName().Name + ".dll\"]", lines);
        var databaseUrl = DockerEnv().Match(string.Join("\n", lines)).Groups["url"].Value;
        var path = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(DatabaseTarget.Parse(databaseUrl, Temp.Path).ConnectionString).DataSource;
        Assert.Equal("/data", Path.GetDirectoryName(path));
        Assert.Contains("VOLUME [\"/data\"]", lines);
    }

    [Fact]
    public async Task Mosquitto_starts_with_the_shipped_configuration_and_takes_a_qos1_subscriber()
    {
        var port = Ports.Free();
        var data = Directory.CreateDirectory(Temp.File("mosquitto")).FullName;
        var config = File.ReadAllText(Repository.File("docker", "mosquitto.conf"))
            .Replace("listener 1883", $"listener {port} 127.0.0.1").Replace("/mosquitto/data/", data + "/");
        File.WriteAllText(Temp.File("mosquitto.conf"), config);
        using var broker = Process.Start(new ProcessStartInfo(MosquittoBroker.Binary, ["-c", Temp.File("mosquitto.conf")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            using var client = new MqttClientFactory().CreateMqttClient();
            await Eventually(async () =>
            {
                try
                {
                    await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
                        .WithClientId("compose-check").WithCleanStart(false).WithSessionExpiryInterval(3600).Build());
                    return true;
                }
                catch (MQTTnet.Exceptions.MqttCommunicationException)
                {
                    return false;
                }
            }, "the broker answering");
            var subscribed = await client.SubscribeAsync("/isems/+/csvlog", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1, subscribed.Items.Single().ResultCode);
        }
        finally
        {
            broker.Kill();
            await broker.WaitForExitAsync();
        }
    }

    private static string Configuration =>
        typeof(DeploymentTests).Assembly.Location.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    private static string Interpolate(string value) => ComposeVariable().Replace(value, m => m.Groups["default"].Value);

    [GeneratedRegex(@"\$\{(?<name>[A-Z_]+):-(?<default>[^}]*)\}")]
    private static partial Regex ComposeVariable();

    [GeneratedRegex(@"DATABASE_URL=(?<url>\S+)")]
    private static partial Regex DockerEnv();


    private static async Task RunAsync(string program, string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed:\n{await output}\n{await error}");
    }

    /// <summary>The [Service] settings of a unit file that running it needs.</summary>
    private sealed record SystemdUnit(
        string ExecStart, string WorkingDirectory, string EnvironmentFile, IReadOnlyDictionary<string, string> Environment,
        string KillSignal, int TimeoutStopSeconds, string Restart)
    {
        public static SystemdUnit Read(string path)
        {
            var service = File.ReadAllLines(path)
                .SkipWhile(l => l.Trim() != "[Service]").Skip(1).TakeWhile(l => !l.StartsWith('['))
                .Where(l => l.Contains('=') && !l.TrimStart().StartsWith('#'))
                .Select(l => (Key: l[..l.IndexOf('=')].Trim(), Value: l[(l.IndexOf('=') + 1)..].Trim()))
                .ToList();
            string One(string key) => service.Single(s => s.Key == key).Value;
            var environment = service.Where(s => s.Key == "Environment")
                .ToDictionary(s => s.Value[..s.Value.IndexOf('=')], s => s.Value[(s.Value.IndexOf('=') + 1)..]);
            return new SystemdUnit(One("ExecStart"), One("WorkingDirectory"), One("EnvironmentFile"), environment,
                One("KillSignal"), int.Parse(One("TimeoutStopSec")), One("Restart"));
        }
    }
}
