using System.Diagnostics.Metrics;
using Isems.Actors;
using Isems.Api.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Isems.Server.Hosting;

/// <summary>
/// Metrics and traces through OpenTelemetry .NET. Metrics: the collector's meter, the runtime's and ASP.NET Core's,
/// served at <c>/metrics</c> by OpenTelemetry's Prometheus exporter, and sent over OTLP when an endpoint is configured.
/// Traces (polls, MQTT messages, API requests) only go out over OTLP, so without an endpoint no tracer is registered
/// at all and every span is a null check.
/// </summary>
public static class CollectorTelemetry
{
    public const string MetricsPath = "/metrics";
    public const string ServiceName = "isems-collector";

    /// <summary>
    /// The meters are enabled through the host's metrics builder with <see cref="MeterScope.Local"/> (the runtime's is
    /// process-wide by nature): OpenTelemetry's own AddMeter listens by name to every meter in the process, so two
    /// collectors in one process (the tests) would count each other's polls.
    /// </summary>
    public static IServiceCollection AddIsemsTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMetrics(metrics => metrics
            .EnableMetrics(CollectorMetrics.MeterName, null, null, MeterScope.Local)
            .EnableMetrics("Microsoft.AspNetCore.Hosting", null, null, MeterScope.Local)
            .EnableMetrics("Microsoft.AspNetCore.Server.Kestrel", null, null, MeterScope.Local)
            .EnableMetrics("System.Runtime", null, null, MeterScope.Global));
        services.AddSingleton<FleetGauges>();

        var tracesOverOtlp = Otlp(configuration, "TRACES");
        var metricsOverOtlp = Otlp(configuration, "METRICS");
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddPrometheusExporter(prometheus =>
                {
                    // Each scrape reads the instruments afresh: the fleet's gauges are refreshed just before it.
                    prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                    // No otel_scope_* label on every sample: the series keep the labels they are documented with.
                    prometheus.ScopeInfoEnabled = false;
                });
                // The runtime names three gauges "…_count", which Prometheus reserves for histograms and summaries
                // (promtool rejects them); the same figures under names it accepts.
                metrics.AddView("dotnet.assembly.count", "dotnet.assemblies");
                metrics.AddView("dotnet.process.cpu.count", "dotnet.process.cpus");
                metrics.AddView("dotnet.timer.count", "dotnet.timers");
                if (metricsOverOtlp) metrics.AddOtlpExporter();
            });
        if (tracesOverOtlp)
            telemetry.WithTracing(tracing => tracing
                .AddSource(CollectorTracing.SourceName)
                .AddAspNetCoreInstrumentation(http => http.Filter = context => context.Request.Path != MetricsPath)
                .AddOtlpExporter());
        return services;
    }

    /// <summary>
    /// <c>/metrics</c>: the fleet's and the broker link's gauges are refreshed, then the exporter writes every series.
    /// One scrape at a time: the exporter answers a scrape that overlaps another with a 500.
    /// </summary>
    public static IEndpointConventionBuilder MapIsemsMetrics(this IEndpointRouteBuilder endpoints)
    {
        var gauges = endpoints.ServiceProvider.GetRequiredService<FleetGauges>();
        var oneAtATime = new SemaphoreSlim(1, 1);
        return endpoints.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use(
            async (context, next) =>
            {
                if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
                {
                    context.Response.Headers.Allow = "GET, HEAD";
                    await Results.Problem(statusCode: StatusCodes.Status405MethodNotAllowed, title: "Method not allowed",
                        detail: "/metrics is read with GET.").ExecuteAsync(context);
                    return;
                }
                await oneAtATime.WaitAsync(context.RequestAborted);
                try
                {
                    await gauges.RefreshAsync(context.RequestAborted);
                    await next(context);
                }
                finally
                {
                    oneAtATime.Release();
                }
            }), optionsName: null);
    }

    /// <summary>
    /// Whether a signal goes out over OTLP: its endpoint or the common one is set (the variables OpenTelemetry reads
    /// itself, with OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, _TIMEOUT), and OTEL_{signal}_EXPORTER does not say none.
    /// </summary>
    public static bool Otlp(IConfiguration configuration, string signal) =>
        !string.Equals(configuration[$"OTEL_{signal}_EXPORTER"], "none", StringComparison.OrdinalIgnoreCase)
        && !string.Equals(configuration["OTEL_SDK_DISABLED"], "true", StringComparison.OrdinalIgnoreCase)
        && (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrWhiteSpace(configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]));
}
