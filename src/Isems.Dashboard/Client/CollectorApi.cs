using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Isems.Dashboard.Client;

/// <summary>An answer of the API: the value, or the problem it answered with (or why it could not be asked).</summary>
public sealed record ApiResult<T>(T? Value, Problem? Problem, HttpStatusCode? Status)
{
    public bool Ok => Problem is null && Value is not null;
}

/// <summary>
/// The collector's public JSON API as the dashboard uses it (one instance per open page, over loopback). Reads of
/// <c>/measurements/latest</c> send the last <c>ETag</c>, so an unchanged fleet costs a 304 and no JSON.
/// </summary>
public sealed class CollectorApi(HttpClient http, CollectorAddress address)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private string? _latestEtag;
    private List<Measurement>? _latest;

    public Task<ApiResult<NodeList>> NodesAsync(CancellationToken ct = default) => GetAsync<NodeList>("nodes", null, ct);

    public Task<ApiResult<NodeHealth>> NodeAsync(string nodeId, CancellationToken ct = default) =>
        GetAsync<NodeHealth>("nodes/" + Uri.EscapeDataString(nodeId), null, ct);

    public Task<ApiResult<MeasurementList>> NodeLatestAsync(string nodeId, CancellationToken ct = default) =>
        GetAsync<MeasurementList>("measurements/" + Uri.EscapeDataString(nodeId) + "/latest", null, ct);

    /// <summary>Every node's newest measurement (<c>?all=true</c>), revalidated with its ETag.</summary>
    public async Task<ApiResult<List<Measurement>>> LatestAsync(CancellationToken ct = default)
    {
        if (!TryRequest(HttpMethod.Get, "measurements/latest?all=true", null, out var request, out var unreachable))
            return new(null, unreachable, null);
        if (_latestEtag is not null && _latest is not null) request.Headers.TryAddWithoutValidation("If-None-Match", _latestEtag);
        try
        {
            using var response = await http.SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.NotModified && _latest is not null) return new(_latest, null, response.StatusCode);
            if (!response.IsSuccessStatusCode) return new(null, await ProblemOf(response, ct), response.StatusCode);
            var list = await response.Content.ReadFromJsonAsync<MeasurementList>(Json, ct);
            _latest = list?.Measurements ?? [];
            _latestEtag = response.Headers.ETag?.ToString();
            return new(_latest, null, response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return new(null, Unreachable(e), null);
        }
    }

    public Task<ApiResult<HistoryAnswer>> HistoryAsync(string nodeId, DateTimeOffset from, DateTimeOffset to, string bucket, CancellationToken ct = default) =>
        GetAsync<HistoryAnswer>(
            $"measurements/{Uri.EscapeDataString(nodeId)}/history?from={from.ToUnixTimeSeconds()}&to={to.ToUnixTimeSeconds()}&bucket={bucket}",
            null, ct);

    /// <summary>The alerts (SPEC §8); a 404 means this collector evaluates none.</summary>
    public Task<ApiResult<AlertList>> AlertsAsync(CancellationToken ct = default) => GetAsync<AlertList>("alerts", null, ct);

    public Task<ApiResult<AdminNodeList>> AdminNodesAsync(string token, CancellationToken ct = default) =>
        GetAsync<AdminNodeList>("admin/nodes", token, ct);

    public Task<ApiResult<AdminNode>> AddNodeAsync(string token, object body, CancellationToken ct = default) =>
        SendAsync<AdminNode>(HttpMethod.Post, "admin/nodes", token, body, ct);

    public Task<ApiResult<AdminNode>> ChangeNodeAsync(string token, string id, object body, CancellationToken ct = default) =>
        SendAsync<AdminNode>(HttpMethod.Patch, "admin/nodes/" + Uri.EscapeDataString(id), token, body, ct);

    public Task<ApiResult<JsonElement>> RemoveNodeAsync(string token, string id, bool purge, CancellationToken ct = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, "admin/nodes/" + Uri.EscapeDataString(id) + (purge ? "?purge=true" : ""), token, null, ct);

    public Task<ApiResult<JsonElement>> PollNodeAsync(string token, string id, CancellationToken ct = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "admin/nodes/" + Uri.EscapeDataString(id) + "/poll", token, null, ct);

    private Task<ApiResult<T>> GetAsync<T>(string path, string? token, CancellationToken ct) =>
        SendAsync<T>(HttpMethod.Get, path, token, null, ct);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, string? token, object? body, CancellationToken ct)
    {
        if (!TryRequest(method, path, token, out var request, out var unreachable)) return new(default, unreachable, null);
        if (body is not null)
            request.Content = new StringContent(JsonSerializer.Serialize(body, Json), Encoding.UTF8, "application/json");
        try
        {
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode) return new(default, await ProblemOf(response, ct), response.StatusCode);
            var value = await response.Content.ReadFromJsonAsync<T>(Json, ct);
            return new(value, null, response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or NotSupportedException
                                      or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return new(default, Unreachable(e), null);
        }
    }

    private bool TryRequest(HttpMethod method, string path, string? token, out HttpRequestMessage request, out Problem? unreachable)
    {
        request = null!;
        unreachable = null;
        if (address.Get() is not { } baseAddress)
        {
            unreachable = new Problem { Title = "The collector's API is not reachable", Detail = "The host listens on no address the dashboard can call." };
            return false;
        }
        request = new HttpRequestMessage(method, new Uri(baseAddress, path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return true;
    }

    private static async Task<Problem> ProblemOf(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<Problem>(Json, ct);
            if (problem is not null) return problem with { Status = (int)response.StatusCode };
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // not a problem+json body: described by its status below
        }
        return new Problem { Title = $"{(int)response.StatusCode} {response.ReasonPhrase}", Status = (int)response.StatusCode };
    }

    private static Problem Unreachable(Exception e) =>
        new() { Title = "The collector's API did not answer", Detail = e.Message };
}
