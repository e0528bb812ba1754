using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Isems.Simulator;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>Operators manage nodes through /admin/nodes on the real host; each change is checked by what the nodes see.</summary>
public sealed class AdminApiTests : ServerTestBase
{
    private const string Token = "test-admin-token-0123456789";

    private Dictionary<string, string> AdminSettings(params SimulatedNode[] configured)
    {
        var settings = Settings(configured);
        settings["ISEMS_ADMIN_TOKEN"] = Token;
        return settings;
    }

    private static HttpClient Admin(CollectorHost host)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> AddAsync(HttpClient client, string json) => client.PostAsync("/admin/nodes", Json(json));

    private static Task<HttpResponseMessage> ChangeAsync(HttpClient client, string id, string json) =>
        client.PatchAsync("/admin/nodes/" + Uri.EscapeDataString(id), Json(json));

    private static async Task<JsonNode> GetJsonAsync(HttpClient client, string path) =>
        JsonNode.Parse(await client.GetStringAsync(path))!;


    private static async Task<List<string>> RegisteredIds(HttpClient client) =>
        (await GetJsonAsync(client, "/admin/nodes"))["nodes"]!.AsArray().Select(n => (string)n!["id"]!).ToList();

    [Fact]
    public async Task A_node_added_with_one_request_is_polled_at_once_and_its_lines_are_served()
    {
        var node = Fleet.AddNode("Roof-Router", historyLines: 5);
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);

        var response = await AddAsync(client, $$"""{"id":"Roof-Router","url":"{{node.LogUrl}}","note":"on the church roof"}""");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/admin/nodes/Roof-Router", response.Headers.Location!.ToString());
        var created = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("operator", (string)created["source"]!);
        Assert.Equal("on the church roof", (string)created["note"]!);
        // POLL_INTERVAL_SECONDS is a day here: only the poll an add starts at once can bring these lines.
        await Eventually(async () => await HistoryCount(client, "Roof-Router") == 5, "the added node's lines stored");
        Assert.Equal(1, node.Requests);
        var listed = Assert.Single((await GetJsonAsync(client, "/admin/nodes"))["nodes"]!.AsArray())!;
        Assert.Equal("up", (string)listed["status"]!["state"]!);
        Assert.Equal(5, (long)listed["status"]!["linesStored"]!);
    }

    [Fact]
    public async Task A_changed_url_is_polled_at_once_and_a_changed_interval_reschedules_without_a_restart()
    {
        var old = Fleet.AddNode("Moving-Node", historyLines: 3);
        var moved = Fleet.AddNode("Moving-Node-New", historyLines: 4);
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);
        Assert.Equal(HttpStatusCode.Created, (await AddAsync(client, $$"""{"id":"Moving-Node","url":"{{old.LogUrl}}"}""")).StatusCode);
        await Eventually(() => old.Requests == 1, "first poll at the old address");

        var changed = await ChangeAsync(client, "Moving-Node", $$"""{"url":"{{moved.LogUrl}}"}""");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        await Eventually(() => moved.Requests == 1, "poll at the new address");
        Assert.Equal(1, old.Requests);

        // The node's next poll moves from within a day to within 10 s.
        var before = DateTimeOffset.UtcNow;
        var rescheduled = JsonNode.Parse(await (await ChangeAsync(client, "Moving-Node", """{"intervalSeconds":10}""")).Content.ReadAsStringAsync())!;
        Assert.Equal(10, (int)rescheduled["intervalSeconds"]!);
        var nextPoll = DateTimeOffset.Parse((string)(await GetJsonAsync(client, "/admin/nodes/Moving-Node"))["status"]!["nextPoll"]!);
        Assert.InRange(nextPoll, before, before.AddSeconds(11));
    }

    [Fact]
    public async Task A_disabled_node_is_not_polled_on_schedule_but_keeps_its_data_and_can_be_polled_by_hand()
    {
        var node = Fleet.AddNode("Winter-Node", historyLines: 5);
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);
        await AddAsync(client, $$"""{"id":"Winter-Node","url":"{{node.LogUrl}}","intervalSeconds":10}""");
        await Eventually(async () => await HistoryCount(client, "Winter-Node") == 5, "lines stored");

        var disabled = JsonNode.Parse(await (await ChangeAsync(client, "Winter-Node", """{"enabled":false}""")).Content.ReadAsStringAsync())!;

        Assert.False((bool)disabled["enabled"]!);
        Assert.Equal("disabled", (string)disabled["status"]!["state"]!);
        Assert.Null(disabled["status"]!["nextPoll"]);
        Assert.Equal(5, await HistoryCount(client, "Winter-Node"));
        var latest = (await GetJsonAsync(client, "/measurements/latest"))["measurements"]!.AsArray();
        Assert.Equal("Winter-Node", (string)Assert.Single(latest)!["nodeId"]!);

        node.Append(2);
        var requests = node.Requests;
        var poll = await client.PostAsync("/admin/nodes/Winter-Node/poll", null);
        Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
        var outcome = JsonNode.Parse(await poll.Content.ReadAsStringAsync())!;
        Assert.Equal(2, (int)outcome["stored"]!);
        Assert.Equal(requests + 1, node.Requests);
        Assert.Equal("disabled", (string)(await GetJsonAsync(client, "/admin/nodes/Winter-Node"))["status"]!["state"]!);

        var enabled = JsonNode.Parse(await (await ChangeAsync(client, "Winter-Node", """{"enabled":true}""")).Content.ReadAsStringAsync())!;
        Assert.True((bool)enabled["enabled"]!);
        await Eventually(() => node.Requests >= requests + 2, "polled at once when enabled again");
    }

    [Fact]
    public async Task Removing_keeps_the_rows_and_purging_deletes_them()
    {
        var kept = Fleet.AddNode("Kept-Rows", historyLines: 5);
        var purged = Fleet.AddNode("Purged-Rows", historyLines: 6);
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);
        await AddAsync(client, $$"""{"id":"Kept-Rows","url":"{{kept.LogUrl}}"}""");
        await AddAsync(client, $$"""{"id":"Purged-Rows","url":"{{purged.LogUrl}}"}""");
        await Eventually(async () => await HistoryCount(client, "Kept-Rows") == 5 && await HistoryCount(client, "Purged-Rows") == 6, "lines stored");

        var removed = await client.DeleteAsync("/admin/nodes/Kept-Rows");
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.Equal(0, (int)JsonNode.Parse(await removed.Content.ReadAsStringAsync())!["rowsDeleted"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/admin/nodes/Kept-Rows")).StatusCode);
        Assert.Equal(5, await HistoryCount(client, "Kept-Rows"));
        var keptStatus = await GetJsonAsync(client, "/nodes/Kept-Rows");
        Assert.Null(keptStatus["url"]);
        Assert.Null(keptStatus["nextPoll"]);

        var purge = await client.DeleteAsync("/admin/nodes/Purged-Rows?purge=true");
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.Equal(6, (int)JsonNode.Parse(await purge.Content.ReadAsStringAsync())!["rowsDeleted"]!);
        Assert.Equal(0, await HistoryCount(client, "Purged-Rows"));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nodes/Purged-Rows")).StatusCode);
        var latest = (await GetJsonAsync(client, "/measurements/latest"))["measurements"]!.AsArray();
        Assert.Equal(["Kept-Rows"], latest.Select(m => (string)m!["nodeId"]!));

        // Removed is gone for good: a restart brings back neither node's configuration.
        await host.DisposeAsync();
        await using var restarted = new CollectorHost(AdminSettings());
        Assert.Empty(await RegisteredIds(Admin(restarted)));
        Assert.Equal(5, await HistoryCount(restarted.CreateClient(), "Kept-Rows"));
    }

    [Fact]
    public async Task Poll_answers_with_what_came_and_a_failing_node_gets_502_with_the_reason()
    {
        var good = Fleet.AddNode("Good-Node", historyLines: 4);
        var broken = Fleet.AddNode("Broken-Node", historyLines: 4);
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);
        await AddAsync(client, $$"""{"id":"Good-Node","url":"{{good.LogUrl}}","enabled":false}""");
        await AddAsync(client, $$"""{"id":"Broken-Node","url":"{{broken.LogUrl}}","enabled":false}""");
        broken.Fault = NodeFault.ServerError;

        var ok = await client.PostAsync("/admin/nodes/Good-Node/poll", null);
        var failed = await client.PostAsync("/admin/nodes/Broken-Node/poll", null);
        var unknown = await client.PostAsync("/admin/nodes/Nobody/poll", null);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var outcome = JsonNode.Parse(await ok.Content.ReadAsStringAsync())!;
        Assert.True((bool)outcome["succeeded"]!);
        Assert.Equal(4, (int)outcome["stored"]!);
        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        Assert.Equal("application/problem+json", failed.Content.Headers.ContentType!.MediaType);
        Assert.Contains("500", (string)JsonNode.Parse(await failed.Content.ReadAsStringAsync())!["detail"]!);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Without_the_token_nothing_is_changed_and_the_read_api_stays_open()
    {
        await using var host = new CollectorHost(AdminSettings());
        var anonymous = host.CreateClient();
        var wrong = host.CreateClient();
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token + "x");

        var none = await AddAsync(anonymous, """{"id":"Sneaky","url":"10.0.0.1"}""");
        var bad = await AddAsync(wrong, """{"id":"Sneaky","url":"10.0.0.1"}""");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.Forbidden, bad.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await wrong.GetAsync("/admin/nodes")).StatusCode);
        Assert.Empty(await RegisteredIds(Admin(host)));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/nodes")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/measurements/latest")).StatusCode);
    }

    [Fact]
    public async Task Without_a_configured_token_the_admin_api_says_how_to_turn_it_on()
    {
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "anything");

        var response = await client.GetAsync("/admin/nodes");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("ISEMS_ADMIN_TOKEN", (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!);
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { "{\"id\":", "not valid JSON" },
        { "[1,2]", "must be a JSON object" },
        { """{"id":"A","url":"10.0.0.9","colour":"red"}""", "Unknown field 'colour'" },
        { """{"id":"A/B","url":"10.0.0.9"}""", "'id' must be" },
        { """{"id":"","url":"10.0.0.9"}""", "'id' must be" },
        { $$"""{"id":"{{new string('x', 65)}}","url":"10.0.0.9"}""", "'id' must be" },
        { """{"url":"10.0.0.9"}""", "'id' is required" },
        { """{"id":"A"}""", "'url' is required" },
        { """{"id":"A","url":"ftp://10.0.0.9/log"}""", "'url' must be" },
        { """{"id":"A","url":"10.0.0.9","intervalSeconds":9}""", "'intervalSeconds' must be" },
        { """{"id":"A","url":"10.0.0.9","intervalSeconds":86401}""", "'intervalSeconds' must be" },
        { """{"id":"A","url":"10.0.0.9","intervalSeconds":"60"}""", "'intervalSeconds' must be" },
        { """{"id":"A","url":"10.0.0.9","intervalSeconds":60.5}""", "'intervalSeconds' must be" },
        { """{"id":"A","url":"10.0.0.9","intervalSeconds":30,"timeoutSeconds":30}""", "shorter than 'intervalSeconds'" },
        { """{"id":"A","url":"10.0.0.9","enabled":"yes"}""", "'enabled' must be true or false" },
        { """{"id":"A","url":"10.0.0.9","id":"B"}""", "given twice" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task An_invalid_add_says_what_to_change_and_adds_nothing(string body, string message)
    {
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);

        var response = await AddAsync(client, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(message, (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!);
        Assert.Empty(await RegisteredIds(client));
    }

    [Fact]
    public async Task Conflicts_unknown_ids_and_wrong_changes_are_refused_whole()
    {
        await using var host = new CollectorHost(AdminSettings());
        var client = Admin(host);
        Assert.Equal(HttpStatusCode.Created, (await AddAsync(client, """{"id":"First","url":"10.0.0.1","enabled":false,"note":"keep"}""")).StatusCode);

        var sameId = await AddAsync(client, """{"id":"First","url":"10.0.0.2"}""");
        var sameUrl = await AddAsync(client, """{"id":"Second","url":"http://10.0.0.1/ISEMS/ffopenmppt.log"}""");
        var renamed = await ChangeAsync(client, "First", """{"id":"Renamed","note":"changed"}""");
        var halfBad = await ChangeAsync(client, "First", """{"note":"changed","intervalSeconds":1}""");
        var unknownChange = await ChangeAsync(client, "Nobody", """{"note":"x"}""");
        var unknownDelete = await client.DeleteAsync("/admin/nodes/Nobody");
        var notJson = await client.PostAsync("/admin/nodes", new StringContent("id=First", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.Conflict, sameId.StatusCode);
        Assert.Contains("already registered", await sameId.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Conflict, sameUrl.StatusCode);
        Assert.Contains("'First'", await sameUrl.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, renamed.StatusCode);
        Assert.Contains("cannot be changed", await renamed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, halfBad.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownChange.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownDelete.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);

        var first = await GetJsonAsync(client, "/admin/nodes/First");
        Assert.Equal("keep", (string)first["note"]!);
        Assert.Equal("http://10.0.0.1/ISEMS/ffopenmppt.log", (string)first["url"]!);
        Assert.Equal(["First"], await RegisteredIds(client));
    }

    [Fact]
    public async Task A_hundred_concurrent_adds_are_all_there_once_and_after_a_restart()
    {
        await using (var host = new CollectorHost(AdminSettings()))
        {
            var client = Admin(host);
            // Disabled, so that the test measures the registry, not a hundred polls of addresses nobody serves.
            var adds = Enumerable.Range(0, 100).Select(i =>
                AddAsync(client, $$"""{"id":"Node-{{i:000}}","url":"http://127.0.0.1:9/n{{i}}","enabled":false}"""));
            var racing = Enumerable.Range(0, 10).Select(_ => AddAsync(client, """{"id":"Raced","url":"10.9.9.9","enabled":false}"""));

            var responses = await Task.WhenAll(adds.Concat(racing));

            Assert.All(responses.Take(100), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
            Assert.Single(responses.Skip(100), r => r.StatusCode == HttpStatusCode.Created);
            Assert.Equal(9, responses.Skip(100).Count(r => r.StatusCode == HttpStatusCode.Conflict));
            var ids = await RegisteredIds(client);
            Assert.Equal(101, ids.Count);
            Assert.Equal(ids.Count, ids.Distinct().Count());
        }

        await using var restarted = new CollectorHost(AdminSettings());
        var after = await RegisteredIds(Admin(restarted));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"Node-{i:000}").Append("Raced").Order(StringComparer.Ordinal), after);
    }

    [Fact]
    public async Task Nodes_from_ISEMS_ROUTER_IPS_are_merged_in_and_an_operators_change_wins_over_them()
    {
        var a = Fleet.AddNode("Configured-A", historyLines: 2);
        var b = Fleet.AddNode("Configured-B", historyLines: 2);
        var c = Fleet.AddNode("Configured-C", historyLines: 2);
        string IdOf(SimulatedNode node) => node.LogUrl.Authority;
        // Fleet nodes share one host and port; the ids of configured nodes are their address, numbered when shared.
        await using (var host = new CollectorHost(AdminSettings(a, b, c)))
        {
            var client = Admin(host);
            var nodes = (await GetJsonAsync(client, "/admin/nodes"))["nodes"]!.AsArray();
            Assert.Equal(3, nodes.Count);
            Assert.All(nodes, n => Assert.Equal("configuration", (string)n!["source"]!));
            Assert.Equal([a.LogUrl, b.LogUrl, c.LogUrl], nodes.Select(n => new Uri((string)n!["url"]!)).Order(Comparer<Uri>.Create((x, y) => string.CompareOrdinal(x.ToString(), y.ToString()))));
            var ids = nodes.ToDictionary(n => new Uri((string)n!["url"]!), n => (string)n!["id"]!);

            Assert.Equal(HttpStatusCode.OK, (await ChangeAsync(client, ids[a.LogUrl], """{"note":"adopted by an operator"}""")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync("/admin/nodes/" + Uri.EscapeDataString(ids[b.LogUrl]))).StatusCode);
        }

        // ISEMS_ROUTER_IPS now names only B: A stays (an operator changed it), B stays removed, C goes (nobody touched it).
        await using var restarted = new CollectorHost(AdminSettings(b));
        var after = (await GetJsonAsync(Admin(restarted), "/admin/nodes"))["nodes"]!.AsArray();
        var survivor = Assert.Single(after)!;
        Assert.Equal(a.LogUrl.ToString(), (string)survivor["url"]!);
        Assert.Equal("adopted by an operator", (string)survivor["note"]!);
        Assert.True((bool)survivor["changedByOperator"]!);
        Assert.StartsWith(IdOf(a), (string)survivor["id"]!);
    }

    [Fact]
    public async Task A_node_configured_by_its_address_is_one_node_under_its_learned_id_before_and_after_a_restart()
    {
        var node = Fleet.AddNode("Learned-Id", historyLines: 3);
        var settings = AdminSettings(node);

        async Task AssertOneNodeUnderItsIdAsync(HttpClient client)
        {
            var listed = Assert.Single((await GetJsonAsync(client, "/nodes"))["nodes"]!.AsArray())!;
            Assert.Equal("Learned-Id", (string)listed["nodeId"]!);
            Assert.Equal(node.LogUrl.ToString(), (string)listed["url"]!);
            Assert.NotNull(listed["latestTimestamp"]);
            Assert.Equal(node.LogUrl.ToString(), (string)(await GetJsonAsync(client, "/nodes/Learned-Id"))["url"]!);

            var registered = Assert.Single((await GetJsonAsync(client, "/admin/nodes"))["nodes"]!.AsArray())!;
            Assert.Equal(node.LogUrl.ToString(), (string)registered["url"]!);
            Assert.Equal("Learned-Id", (string)registered["status"]!["nodeId"]!);
            Assert.Equal(node.LogUrl.ToString(), (string)(await GetJsonAsync(client, "/admin/nodes/Learned-Id"))["url"]!);
        }

        await using (var host = new CollectorHost(settings))
        {
            var client = Admin(host);
            Assert.True((await host.PollNowAsync(node.LogUrl.ToString())).Succeeded);
            // The registry records the id the node's lines carry; from then on the node is found under it.
            await Eventually(async () => (await client.GetAsync("/admin/nodes/Learned-Id")).IsSuccessStatusCode, "the node identified");
            await AssertOneNodeUnderItsIdAsync(client);
        }

        await using var restarted = new CollectorHost(settings);
        var requests = node.Requests;
        await AssertOneNodeUnderItsIdAsync(Admin(restarted));
        Assert.Equal(requests, node.Requests);
        node.Append();
        var outcome = await restarted.PollNowAsync("Learned-Id");
        Assert.Equal((1, 0), (outcome.Stored, outcome.Duplicates));
    }

    [Fact]
    public async Task A_node_added_right_before_the_process_is_killed_is_there_and_polled_after_the_restart()
    {
        var node = Fleet.AddNode("Survivor", historyLines: 3);
        var settings = AdminSettings();
        settings["POLL_INTERVAL_SECONDS"] = "10";

        await using (var first = await CollectorProcess.StartAsync(settings, Temp.Path))
        {
            using var client = first.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            var added = await AddAsync(client, $$"""{"id":"Survivor","url":"{{node.LogUrl}}","note":"added, then SIGKILL"}""");
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            first.Kill();
        }

        await using var second = await CollectorProcess.StartAsync(settings, Temp.Path);
        using var again = second.CreateClient();
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var registered = await GetJsonAsync(again, "/admin/nodes/Survivor");
        Assert.Equal("added, then SIGKILL", (string)registered["note"]!);
        var requestsAtRestart = node.Requests;
        await Eventually(() => node.Requests > requestsAtRestart, "polled on its schedule after the restart");
        await Eventually(async () => await HistoryCount(again, "Survivor") == 3, "its lines stored");
    }

    [Fact]
    public async Task On_postgresql_the_registry_survives_a_restart()
    {
        var server = await PostgresServer.SharedAsync();
        var node = Fleet.AddNode("Pg-Node", historyLines: 3);
        var settings = AdminSettings();
        settings["DATABASE_URL"] = await server.CreateDatabaseAsync();

        await using (var host = new CollectorHost(settings))
        {
            var client = Admin(host);
            Assert.Equal(HttpStatusCode.Created, (await AddAsync(client, $$"""{"id":"Pg-Node","url":"{{node.LogUrl}}","intervalSeconds":60}""")).StatusCode);
            await Eventually(async () => await HistoryCount(client, "Pg-Node") == 3, "lines stored in PostgreSQL");
        }

        await using var restarted = new CollectorHost(settings);
        var again = await GetJsonAsync(Admin(restarted), "/admin/nodes/Pg-Node");
        Assert.Equal(60, (int)again["intervalSeconds"]!);
        Assert.Equal(node.LogUrl.ToString(), (string)again["url"]!);
        Assert.False(File.Exists(Temp.File("isems.registry.db")), "on PostgreSQL no SQLite journal is written");
    }

    [Fact]
    public async Task The_openapi_document_covers_every_endpoint_and_the_docs_page_is_served()
    {
        await using var host = new CollectorHost(Settings());
        var client = host.CreateClient();

        var document = await GetJsonAsync(client, "/openapi/v1.json");
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        var docs = await client.GetAsync("/docs/");

        Assert.Equal(
            ["/admin/nodes", "/admin/nodes/{id}", "/admin/nodes/{id}/poll", "/alerts", "/cluster", "/healthz", "/measurements/export", "/measurements/latest",
             "/measurements/{nodeId}/export", "/measurements/{nodeId}/history", "/measurements/{nodeId}/latest",
             "/metrics", "/mqtt", "/nodes", "/nodes/{nodeId}", "/readyz"],
            paths.Order(StringComparer.Ordinal));
        var add = document["paths"]!["/admin/nodes"]!["post"]!;
        Assert.NotNull(add["requestBody"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(add["responses"]!["409"]);
        Assert.NotNull(add["security"]);
        Assert.NotNull(document["components"]!["securitySchemes"]!["adminToken"]);
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("ISEMS collector API", await docs.Content.ReadAsStringAsync());
    }
}
