using System.Net;
using System.Net.Sockets;

namespace Isems.Testing;

public static class Ports
{
    /// <summary>A loopback port that was free a moment ago, for a server the test starts itself.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
