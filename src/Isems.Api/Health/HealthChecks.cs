using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Isems.Api.Health;

/// <summary>
/// <c>/healthz</c>: the process and its actor system are alive (restart it if not). <c>/readyz</c>: it can do its work
/// (database, node registry, MQTT link, actor system), each check listed with its state and what is wrong.
/// </summary>
public static class HealthChecks
{
    public const string Ready = "ready";

    /// <summary>A check that takes longer than this counts as failing: a probe must answer quickly.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static IHealthChecksBuilder AddIsemsReadiness(this IServiceCollection services) => services.AddHealthChecks()
        .AddCheck<DatabaseCheck>("database", tags: [Ready], timeout: Timeout * 2)
        .AddCheck<NodeRegistryCheck>("node-registry", tags: [Ready], timeout: Timeout * 2)
        .AddCheck<MqttCheck>("mqtt", tags: [Ready], timeout: Timeout * 2);

    /// <summary>Cluster mode: <c>/readyz</c> also says whether this member is Up (one process has no such check).</summary>
    public static IHealthChecksBuilder AddIsemsClusterReadiness(this IServiceCollection services) => services.AddHealthChecks()
        .AddCheck<ClusterCheck>("cluster", tags: [Ready], timeout: Timeout);

    public static IEndpointRouteBuilder MapIsemsHealth(this IEndpointRouteBuilder endpoints)
    {
        // Akka.Hosting's actor system check is tagged "liveness"; every check counts for readiness.
        endpoints.MapGet("/healthz", (HealthCheckService health, CancellationToken ct) =>
                ReportAsync(health, check => check.Tags.Contains("liveness"), ct))
            .WithTags("Health").WithSummary("The process and its actor system are alive (restart it if not)")
            .Produces<HealthJson>(StatusCodes.Status200OK).Produces<HealthJson>(StatusCodes.Status503ServiceUnavailable);
        endpoints.MapGet("/readyz", (HealthCheckService health, CancellationToken ct) => ReportAsync(health, _ => true, ct))
            .WithTags("Health").WithSummary("The collector can do its work: database, node registry, MQTT link, actor system")
            .Produces<HealthJson>(StatusCodes.Status200OK).Produces<HealthJson>(StatusCodes.Status503ServiceUnavailable);
        return endpoints;
    }

    private static async Task<IResult> ReportAsync(HealthCheckService health, Func<HealthCheckRegistration, bool> predicate, CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(predicate, ct);
        var body = new HealthJson(Name(report.Status), report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new HealthCheckJson(
                e.Key,
                Name(e.Value.Status),
                e.Value.Description ?? e.Value.Exception?.Message,
                Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                e.Value.Data.Count == 0 ? null : e.Value.Data))
            .ToList());
        return Results.Json(body, statusCode: report.Status == HealthStatus.Unhealthy
            ? StatusCodes.Status503ServiceUnavailable
            : StatusCodes.Status200OK);
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();
}

/// <summary><c>healthy</c>, <c>degraded</c> (still 200) or <c>unhealthy</c> (503), and each check.</summary>
public sealed record HealthJson(string Status, IReadOnlyList<HealthCheckJson> Checks);

public sealed record HealthCheckJson(string Name, string Status, string? Description, double DurationMs, IReadOnlyDictionary<string, object>? Data);
