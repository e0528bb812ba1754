using Isems.Api;
using Isems.Api.Admin;
using Isems.Api.Controllers;
using Isems.Api.Health;
using Isems.Api.Json;
using Isems.Dashboard;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Scalar.AspNetCore;

namespace Isems.Server.Hosting;

/// <summary>
/// The web host's services and endpoints, in one place for the program and for the benchmarks that measure it, so
/// what is measured is what runs.
/// </summary>
public static class CollectorApp
{
    public static WebApplicationBuilder AddCollectorApp(this WebApplicationBuilder builder)
    {
        builder.AddIsemsLogging();
        builder.Services.AddIsemsCollector(builder.Configuration);
        builder.Services.AddIsemsTelemetry(builder.Configuration);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        builder.Services.AddCors(cors => cors.AddPolicy(ApiOptions.ReadOnlyCorsPolicy, policy =>
            policy.AllowAnyOrigin().AllowAnyHeader().WithMethods("GET", "HEAD", "OPTIONS")));
        builder.Services.AddControllers(mvc =>
            {
                // No endpoint takes a form: a form body sent anyway is not parsed (a malformed one threw from MVC's
                // form readers, a 500).
                mvc.ValueProviderFactories.RemoveType<FormValueProviderFactory>();
                mvc.ValueProviderFactories.RemoveType<JQueryFormValueProviderFactory>();
                mvc.ValueProviderFactories.RemoveType<FormFileValueProviderFactory>();
            })
            .AddApplicationPart(typeof(MeasurementsController).Assembly)
            .AddJsonOptions(json => json.JsonSerializerOptions.Converters.Add(new UtcTimeConverter()));
        builder.Services.AddIsemsOpenApi();
        builder.Services.AddIsemsDashboard(builder.Configuration);
        // The dashboard's scripts and styles (its own and those its NuGet packages ship) are served from the build
        // output's manifest outside Development too, so `dotnet run` shows them; a published app has them in wwwroot.
        builder.WebHost.UseStaticWebAssets();
        return builder;
    }

    public static WebApplication MapCollectorApp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseAdminBodyLimit();
        app.UseStatusCodePages();
        app.UseCors();
        app.MapControllers();
        app.MapIsemsHealth();
        app.MapIsemsMetrics();
        app.MapOpenApi();
        // For operators reading what the collector answers: none of the vendor's own offers (its deploy and SDK
        // toolbar, its AI chat, MCP, its "Powered by" link), no telemetry to the vendor, no fonts from its CDN.
        app.MapScalarApiReference("/docs", docs => docs
            .WithTitle("ISEMS collector API: operator reference")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")
            .HideDeveloperTools()
            .DisableAgent()
            .DisableMcp()
            .DisableTelemetry()
            .DisableDefaultFonts()
            // The sidebar's "Powered by" link, with the vendor's campaign parameters.
            .WithCustomCss("a[href*='utm_source=powered-by'] { display: none !important; }"));
        app.MapIsemsDashboard();
        return app;
    }
}
