using System.Net;
using MQTTnet.Server;

namespace Isems.Server.Hosting;

/// <summary>
/// MQTT_EMBEDDED_BROKER_PORT: an MQTT broker inside the collector, so a small deployment needs no separate one. Nodes
/// publish straight to it, and the bridge subscribes to it like to any broker. Started before the actors.
/// </summary>
public sealed class EmbeddedBroker(int port, ILogger<EmbeddedBroker> log) : IHostedService, IDisposable
{
    private MqttServer? _server;

    public int Port => port;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Any)
            .WithDefaultEndpointPort(port)
            // Sessions outlive a disconnect, so messages for the collector wait while it reconnects.
            .WithPersistentSessions()
            .Build());
        await _server.StartAsync();
        log.LogInformation("Embedded MQTT broker listening on port {Port}", port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null) return;
        try
        {
            await _server.StopAsync();
        }
        catch (InvalidOperationException e)
        {
            // MQTTnet's server can trip over a client disconnecting while it stops; the broker is going away anyway.
            log.LogDebug(e, "Embedded MQTT broker stopped with clients still leaving");
        }
    }

    public void Dispose() => _server?.Dispose();
}
