using Isems.Api;
using Isems.Api.Controllers;
using Isems.Api.Health;
using Isems.Api.Json;
using Isems.Dashboard;
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
        builder.Services.AddProblemDetails();
        builder.Services.AddCors(cors => cors.AddPolicy(ApiOptions.ReadOnlyCorsPolicy, policy =>
            policy.AllowAnyOrigin().AllowAnyHeader().WithMethods("GET", "HEAD", "OPTIONS")));
        builder.Services.AddControllers()
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
        app.UseStatusCodePages();
        app.UseCors();
        app.MapControllers();
        app.MapIsemsHealth();
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", docs => docs
            .WithTitle("ISEMS collector API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        app.MapIsemsDashboard();
        return app;
    }
}
