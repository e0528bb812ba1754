using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Simulator;

/// <summary>
/// Simulated ESP boards that push: publishes each node's last lines (up to 5, joined by <c>\n</c>, no trailing
/// newline) to <c>/isems/&lt;nodeId&gt;/csvlog</c> with QoS 1, as the ESP firmware does (SPEC §2).
/// </summary>
public sealed class SimulatedPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _options;

    public SimulatedPublisher(string host, int port, string clientId = "isems-simulator") =>
        _options = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId).Build();

    public static string Topic(string nodeId) => $"/isems/{nodeId}/csvlog";

    /// <summary>Publishes the node's current lines; connects first when needed. False when the broker did not take it.</summary>
    public async Task<bool> PublishAsync(SimulatedNode node, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!_client.IsConnected) await _client.ConnectAsync(_options, cancellationToken);
            var payload = Encoding.UTF8.GetBytes(string.Join("\n", node.Lines.TakeLast(5)));
            var result = await _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(Topic(node.NodeId))
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), cancellationToken);
            return result.IsSuccess;
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}
