using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Isems.Dashboard.Client;

/// <summary>
/// Where the dashboard reaches the collector's own JSON API: the first address the host listens on, with a wildcard
/// host (0.0.0.0, [::], *, +) turned into loopback. The pages read the public API, not the actors behind it, so they
/// show exactly what operators and scripts see and stay independent of how the collector is built inside.
/// </summary>
public sealed class CollectorAddress(IServer server)
{
    private Uri? _address;

    public Uri? Get()
    {
        if (_address is not null) return _address;
        // Plain HTTP where the host offers it: a certificate made for a public name does not fit a loopback call.
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var listening = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault();
        if (listening is null) return null;
        var text = listening.Replace("://0.0.0.0", "://127.0.0.1").Replace("://[::]", "://[::1]")
            .Replace("://*", "://localhost").Replace("://+", "://localhost");
        return Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var uri) ? _address = uri : null;
    }
}
