using Isems.Dashboard.Client;
using Isems.Dashboard.Components;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Radzen;

namespace Isems.Dashboard;

public static class DashboardHosting
{
    /// <summary>The dashboard's services: server-rendered interactive components and the API client they read through.</summary>
    public static IServiceCollection AddIsemsDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        var tiles = configuration["DASHBOARD_TILE_URL"];
        services.AddSingleton(new DashboardOptions(string.IsNullOrWhiteSpace(tiles) ? null : tiles.Trim()));
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddRadzenComponents();
        services.AddSingleton<CollectorAddress>();
        // Every open page asks every few seconds: not worth a log line each.
        services.AddHttpClient<CollectorApi>(http => http.Timeout = TimeSpan.FromSeconds(30)).RemoveAllLoggers();
        return services;
    }

    /// <summary>The pages at <c>/</c> and <c>/ui/…</c>, and their static assets (served by the collector itself).</summary>
    public static WebApplication MapIsemsDashboard(this WebApplication app)
    {
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
