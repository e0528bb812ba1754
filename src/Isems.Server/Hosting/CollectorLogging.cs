using Isems.Server.Configuration;

namespace Isems.Server.Hosting;

/// <summary>
/// Where the collector's logs go: the console as text, or as one JSON object per line (<c>LOG_FORMAT=json</c>); and
/// errors to Sentry when <c>SENTRY_DSN</c> is set. Akka's own log goes through the same loggers (see
/// <see cref="CollectorServices"/>), so one setting covers every line the process writes.
/// </summary>
public static class CollectorLogging
{
    public static WebApplicationBuilder AddIsemsLogging(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.Get<CollectorOptions>() ?? new CollectorOptions();
        if (options.LogFormat == "json")
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
            });
        }
        if (!string.IsNullOrWhiteSpace(options.SentryDsn))
            builder.WebHost.UseSentry(sentry =>
            {
                sentry.Dsn = options.SentryDsn;
                sentry.MinimumEventLevel = LogLevel.Error;
                sentry.MinimumBreadcrumbLevel = LogLevel.Warning;
                sentry.SendDefaultPii = false;
            });
        return builder;
    }
}
