using Isems.Dashboard.Client;
using Isems.Dashboard.Components;
using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.ResponseCompression;
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
        // Brotli or gzip for the pages and their assets: Radzen's theme is 810 KB as text and 60 KB compressed, and a
        // mesh link is slow. The build compresses only some static web assets (not the packages' fingerprinted ones),
        // so the dashboard's paths are compressed here; what already carries a Content-Encoding is left alone.
        services.AddResponseCompression(compression =>
        {
            compression.Providers.Add<BrotliCompressionProvider>();
            compression.Providers.Add<GzipCompressionProvider>();
            compression.MimeTypes = ["text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml"];
        });
        services.Configure<BrotliCompressionProviderOptions>(brotli => brotli.Level = CompressionLevel.Optimal);
        services.Configure<GzipCompressionProviderOptions>(gzip => gzip.Level = CompressionLevel.Optimal);
        services.AddSingleton<CollectorAddress>();
        // Every open page asks every few seconds: not worth a log line each.
        services.AddHttpClient<CollectorApi>(http => http.Timeout = TimeSpan.FromSeconds(30)).RemoveAllLoggers();
        return services;
    }

    /// <summary>The pages at <c>/</c> and <c>/ui/…</c>, and their static assets (served by the collector itself).</summary>
    public static WebApplication MapIsemsDashboard(this WebApplication app)
    {
        app.UseWhen(context => IsDashboardPath(context.Request.Path), dashboard => dashboard.UseResponseCompression());
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    private static bool IsDashboardPath(PathString path) =>
        path == "/" || path.StartsWithSegments("/ui") || path.StartsWithSegments("/_content") || path.StartsWithSegments("/_framework");
}
