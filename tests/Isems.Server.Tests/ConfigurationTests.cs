using Isems.Server.Commands;
using Isems.Server.Configuration;
using Microsoft.Extensions.Configuration;

namespace Isems.Server.Tests;

public sealed class ConfigurationTests
{
    private static IReadOnlyList<string> Problems(params (string Key, string Value)[] settings) =>
        ConfigurationCheck.Problems(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Fact]
    public void The_defaults_are_valid() => Assert.Empty(Problems());

    [Theory]
    [InlineData("POLL_INTERVAL_SECONDS", "5", "POLL_INTERVAL_SECONDS must be between 10 and 86400")]
    [InlineData("POLL_RETRIES", "many", "POLL_RETRIES")]
    [InlineData("POLL_TIMEOUT_SECONDS", "0", "POLL_TIMEOUT_SECONDS must be between 1 and 600")]
    [InlineData("DATABASE_URL", "mysql://db/isems", "DATABASE_URL")]
    [InlineData("ISEMS_ROUTER_IPS", "10.0.0.1,ftp://node", "ISEMS_ROUTER_IPS entry 'ftp://node'")]
    public void A_wrong_setting_is_named_with_what_to_change(string key, string value, string expected)
    {
        var problem = Assert.Single(Problems((key, value)));
        Assert.Contains(expected, problem);
    }

    [Theory]
    [InlineData("10.36.158.33", "http://10.36.158.33/ISEMS/ffopenmppt.log")]
    [InlineData("node.local:8080", "http://node.local:8080/ISEMS/ffopenmppt.log")]
    [InlineData(" http://10.36.158.33/ISEMS/ffopenmppt.log ", "http://10.36.158.33/ISEMS/ffopenmppt.log")]
    [InlineData("https://esp.local/csv.log", "https://esp.local/csv.log")]
    [InlineData("[fd00::1]:8080", "http://[fd00::1]:8080/ISEMS/ffopenmppt.log")]
    public void Router_entries_become_log_urls(string entry, string url) =>
        Assert.Equal(new Uri(url), Assert.Single(NodeAddresses.Parse(entry)));

    [Fact]
    public void Empty_entries_and_repeats_are_dropped() =>
        Assert.Equal(2, NodeAddresses.Parse("10.0.0.1,, 10.0.0.2 ,10.0.0.1").Count);

    [Fact]
    public void A_non_integer_hide_inactive_setting_falls_back_to_30_days()
    {
        Assert.Null(new CollectorOptions { HideInactiveAfterDays = "thirty" }.ParsedHideInactiveAfterDays);
        Assert.Equal(7, new CollectorOptions { HideInactiveAfterDays = "7" }.ParsedHideInactiveAfterDays);
        Assert.Equal(30, new CollectorOptions().ParsedHideInactiveAfterDays);
    }

    [Fact]
    public async Task Update_data_refuses_a_wrong_setting_before_starting_anything()
    {
        var exit = await UpdateDataCommand.RunAsync(["--POLL_INTERVAL_SECONDS=1", "--ISEMS_ROUTER_IPS=10.0.0.1"], TextWriter.Null);
        Assert.Equal(2, exit);
    }
}
