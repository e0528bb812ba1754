using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
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

    public static IEndpointRouteBuilder MapIsemsHealth(this IEndpointRouteBuilder endpoints)
    {
        // Akka.Hosting's actor system check is tagged "liveness"; everything counts for readiness.
        endpoints.MapHealthChecks("/healthz", Options(check => check.Tags.Contains("liveness")));
        endpoints.MapHealthChecks("/readyz", Options(_ => true));
        return endpoints;
    }

    private static HealthCheckOptions Options(Func<HealthCheckRegistration, bool> predicate) => new()
    {
        Predicate = predicate,
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
        ResponseWriter = WriteJsonAsync,
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static Task WriteJsonAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = Name(report.Status),
            checks = report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new
            {
                name = e.Key,
                status = Name(e.Value.Status),
                description = e.Value.Description ?? e.Value.Exception?.Message,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                data = e.Value.Data.Count == 0 ? null : e.Value.Data,
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();
}
