using System.Net;
using Isems.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Isems.Dashboard.Tests;

/// <summary>The real collector host (Program) listening on a loopback port of its own, as a browser reaches it.</summary>
public sealed class DashboardHost : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly int _port = Ports.Free();

    public DashboardHost(IReadOnlyDictionary<string, string> settings)
    {
        _settings = settings;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, _port));
        StartServer();
    }

    public Uri BaseAddress => new($"http://127.0.0.1:{_port}/");

    public HttpClient Http() => new() { BaseAddress = BaseAddress };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("urls", BaseAddress.ToString());
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }
}
