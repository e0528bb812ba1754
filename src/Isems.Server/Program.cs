using Isems.Api;
using Isems.Api.Controllers;
using Isems.Api.Health;
using Isems.Api.Json;
using Isems.Server.Commands;
using Isems.Server.Configuration;
using Isems.Server.Demo;
using Isems.Server.Hosting;
using Scalar.AspNetCore;

// Isems.Server                 run the collector (HTTP API on http://localhost:5000 unless --urls says otherwise)
// Isems.Server --demo          the same, with simulated nodes on loopback to show data flowing
// Isems.Server update-data     poll every configured node once, print what came, exit (the original's `flask update-data`)
// Isems.Server import-legacy <path>   copy the original's SQLite database into DATABASE_URL, print the counts, exit
if (args.Length > 0 && args[0] == "update-data")
    return await UpdateDataCommand.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "import-legacy")
{
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true; // stop after the page being written, so the summary still prints
        cancel.Cancel();
    };
    return await ImportLegacyCommand.RunAsync(args[1..], ct: cancel.Token);
}

var demo = args.Contains("--demo");
await using var demoFleet = demo ? DemoFleet.Start() : null;

var builder = WebApplication.CreateBuilder(args.Where(a => a != "--demo").ToArray());
if (demoFleet is not null) builder.Configuration.AddInMemoryCollection(demoFleet.Settings(builder.Configuration));
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls("http://localhost:5000");

if (!ConfigurationCheck.Passes(builder.Configuration)) return 2;
builder.AddIsemsLogging();
builder.Services.AddIsemsCollector(builder.Configuration);
builder.Services.AddProblemDetails();
builder.Services.AddCors(cors => cors.AddPolicy(ApiOptions.ReadOnlyCorsPolicy, policy =>
    policy.AllowAnyOrigin().AllowAnyHeader().WithMethods("GET", "HEAD", "OPTIONS")));
builder.Services.AddControllers()
    .AddApplicationPart(typeof(MeasurementsController).Assembly)
    .AddJsonOptions(json => json.JsonSerializerOptions.Converters.Add(new UtcTimeConverter()));
builder.Services.AddIsemsOpenApi();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseCors();
app.MapControllers();
app.MapIsemsHealth();
app.MapOpenApi();
app.MapScalarApiReference("/docs", docs => docs
    .WithTitle("ISEMS collector API")
    .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
if (demoFleet is not null)
    app.Lifetime.ApplicationStarted.Register(() =>
    {
        demoFleet.PrintWelcome(app.Urls);
        _ = demoFleet.PublishNowAsync();
    });
await app.RunAsync();
return 0;

/// <summary>Lets the HTTP tests start the real host.</summary>
public partial class Program;
