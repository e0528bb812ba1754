using System.Text;
using Isems.Simulator;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Server.Tests;

/// <summary>
/// What the fleet does while the cluster is put through a kill and a restart: ESP boards publishing overlapping
/// 5-line payloads with QoS 1 (one per board per second, every acknowledgement checked), and routers logging a new
/// line every few seconds. Counts what was acknowledged, so the rows a member must store can be told exactly.
/// </summary>
public sealed class ClusterLoad : IAsyncDisposable
{
    public const int EspNodes = 6;
    private static readonly TimeSpan PublishEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan AppendEvery = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly int[] _acked = new int[EspNodes];
    private readonly List<string> _failures = [];
    private readonly List<DateTime> _rounds = [];
    private long _firstTimestamp;
    private Task _publishing = Task.CompletedTask;
    private Task _appending = Task.CompletedTask;

    public static string EspId(int index) => $"Cluster-ESP-{index + 1:00}";

    /// <summary>Publishes acknowledged with success, all boards together.</summary>
    public int Acked => Enumerable.Range(0, EspNodes).Sum(i => Volatile.Read(ref _acked[i]));

    /// <summary>Publishes that failed or that the broker did not take with success (no subscriber, say), with why.</summary>
    public IReadOnlyList<string> Failures
    {
        get { lock (_failures) return _failures.ToList(); }
    }

    /// <summary>
    /// The rows board <paramref name="index"/>'s acknowledged messages hold: message m carries the lines m..m+4, so
    /// M messages hold M + 4 distinct lines.
    /// </summary>
    public long ExpectedRows(int index)
    {
        var messages = Volatile.Read(ref _acked[index]);
        return messages > 0 ? messages + 4 : 0;
    }

    /// <summary>
    /// For a failure's message: which of a board's lines (by their place, from 0) are not among
    /// <paramref name="storedTimestamps"/>, and when the messages that held them were published.
    /// </summary>
    public string Missing(int index, IReadOnlySet<long> storedTimestamps)
    {
        var first = Volatile.Read(ref _firstTimestamp);
        var lines = ExpectedRows(index);
        var missing = Enumerable.Range(0, (int)lines).Where(k => !storedTimestamps.Contains(first + k * 15L)).ToList();
        if (missing.Count == 0) return "";
        DateTime Round(int m)
        {
            lock (_rounds) return _rounds[Math.Clamp(m, 0, _rounds.Count - 1)];
        }
        return $"{EspId(index)} lines {string.Join(",", missing)} missing, published {Round(missing[0] - 4):HH:mm:ss.f}–{Round(missing[^1]):HH:mm:ss.f}";
    }

    public void Start(int brokerPort, IReadOnlyList<SimulatedNode> routers)
    {
        _publishing = Task.Run(() => PublishAsync(brokerPort));
        _appending = Task.Run(() => AppendAsync(routers));
    }

    /// <summary>Stops both after the round under way; every publish started has its acknowledgement by then.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_publishing, _appending);
    }

    private async Task PublishAsync(int port)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("cluster-esp-fleet").Build());
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 86_000;
        Volatile.Write(ref _firstTimestamp, start);
        for (var m = 0; !_stop.IsCancellationRequested; m++)
        {
            lock (_rounds) _rounds.Add(DateTime.UtcNow);
            for (var n = 0; n < EspNodes; n++)
            {
                var id = EspId(n);
                var payload = string.Join("\n", Enumerable.Range(m, 5).Select(i => SimulatedLines.Esp(id, start + i * 15)));
                var message = new MqttApplicationMessageBuilder().WithTopic($"/isems/{id}/csvlog")
                    .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
                try
                {
                    // Not cancelled half-way: a publish either has its acknowledgement or counts as failed.
                    var result = await client.PublishAsync(message, CancellationToken.None);
                    if (result.ReasonCode == MqttClientPublishReasonCode.Success) Interlocked.Increment(ref _acked[n]);
                    else Fail($"{id} message {m}: {result.ReasonCode} {result.ReasonString}");
                }
                catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
                {
                    Fail($"{id} message {m}: {e.Message}");
                }
            }
            try
            {
                await Task.Delay(PublishEvery, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await client.DisconnectAsync();
    }

    private async Task AppendAsync(IReadOnlyList<SimulatedNode> routers)
    {
        while (!_stop.IsCancellationRequested)
        {
            foreach (var router in routers) router.Append();
            try
            {
                await Task.Delay(AppendEvery, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Fail(string why)
    {
        lock (_failures) _failures.Add(why);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}
