using System.Buffers;
using System.Text.Unicode;
using Akka;
using Akka.Actor;
using Akka.Event;
using Isems.Actors.Nodes;
using Isems.LineFormat;
using MQTTnet;
using MQTTnet.Protocol;

namespace Isems.Actors.Mqtt;

/// <summary>Answered with the link's <see cref="MqttStatus"/>.</summary>
public sealed record GetMqttStatus;

public sealed record MqttStatus(
    string Broker,
    bool Connected,
    bool Degraded,
    DateTimeOffset? ConnectedSince,
    DateTimeOffset? LastMessage,
    long Messages,
    long Reconnects,
    string? LastError,
    IReadOnlyDictionary<string, long> Dropped,
    long TopicMismatches,
    int AwaitingCommit);

/// <summary>
/// The link to the MQTT broker. Owns one MQTTnet client: connects under a fixed client id with a persistent
/// session, subscribes with QoS 1, reconnects with capped, jittered backoff, and pings to notice a half-open link.
/// Each message's lines go to their node's actor; the message is acknowledged to the broker only once its lines are
/// committed (or found bad), so a crash in between loses nothing: the broker delivers it again. The library's
/// callbacks only tell this actor; they never touch its state.
/// </summary>
public sealed class MqttBridgeActor : ReceiveActor, IWithTimers
{
    private sealed record Connect;
    private sealed record Connected;
    private sealed record ConnectFailed(string Error);
    private sealed record Disconnected(string Reason);
    private sealed record CheckLink;
    private sealed record LinkChecked(bool Alive);
    private sealed record MessageArrived(MqttApplicationMessageReceivedEventArgs Args);
    private sealed record Pending(MqttApplicationMessageReceivedEventArgs Args, int Outstanding, IReadOnlyList<IngestLines> Parts);
    private sealed record RetryIngest(IngestLines Part);

    private readonly MqttOptions _options;
    private readonly IActorRef _nodes;
    private readonly IMqttClient _client;
    private readonly MqttClientFactory _factory = new();
    private readonly Random _jitter;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly Dictionary<string, long> _dropped = new(StringComparer.Ordinal);
    private long _tag, _messages, _reconnects, _mismatches;
    private int _failedConnects;
    private bool _connected, _connecting;
    private DateTimeOffset? _connectedSince, _lastMessage;
    private string? _lastError;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(MqttOptions options, IActorRef nodes) =>
        Akka.Actor.Props.Create(() => new MqttBridgeActor(options, nodes));

    public MqttBridgeActor(MqttOptions options, IActorRef nodes)
    {
        _options = options;
        _nodes = nodes;
        _jitter = new Random(options.JitterSeed);
        _client = _factory.CreateMqttClient();
        var self = Self;
        _client.ApplicationMessageReceivedAsync += args =>
        {
            args.AutoAcknowledge = false;
            self.Tell(new MessageArrived(args));
            return Task.CompletedTask;
        };
        _client.DisconnectedAsync += args =>
        {
            if (args.ClientWasConnected) self.Tell(new Disconnected(args.Exception?.Message ?? args.Reason.ToString()));
            return Task.CompletedTask;
        };

        Receive<Connect>(_ => StartConnect());
        Receive<Connected>(_ =>
        {
            _connecting = false;
            if (_connectedSince is not null || _reconnects > 0) _log.Info("MQTT link to {0} is up again", Broker);
            else _log.Info("MQTT link to {0} is up", Broker);
            _connected = true;
            _failedConnects = 0;
            _connectedSince = Now;
            Timers.StartPeriodicTimer("check", new CheckLink(), _options.CheckInterval);
        });
        Receive<ConnectFailed>(failed =>
        {
            _connecting = false;
            _lastError = failed.Error;
            if (_failedConnects++ == 0) _log.Warning("MQTT broker {0} unreachable, retrying: {1}", Broker, failed.Error);
            ScheduleReconnect();
        });
        Receive<Disconnected>(lost =>
        {
            if (!_connected) return;
            _connected = false;
            _connectedSince = null;
            _lastError = lost.Reason;
            _reconnects++;
            // Unacknowledged messages will come again from the broker's session: forget them here.
            _pending.Clear();
            Timers.Cancel("check");
            _log.Warning("MQTT link to {0} lost: {1}", Broker, lost.Reason);
            ScheduleReconnect();
        });
        Receive<CheckLink>(_ =>
        {
            // Messages arriving prove the link; a ping queued behind thousands of them could time out and
            // tear down a healthy link under load. Only a silent link is pinged.
            if (_lastMessage > Now - _options.CheckInterval) return;
            _client.TryPingAsync().PipeTo(Self, success: alive => new LinkChecked(alive));
        });
        Receive<LinkChecked>(check =>
        {
            if (check.Alive || !_connected) return;
            Self.Tell(new Disconnected("the broker did not answer a ping"));
            _client.DisconnectAsync().PipeTo(Self, success: () => Done.Instance, failure: _ => Done.Instance);
        });
        Receive<Done>(_ => { });

        Receive<MessageArrived>(OnMessage);
        Receive<LinesIngested>(ingested => Settle(ingested.Tag));
        Receive<LinesNotIngested>(failed =>
        {
            // Still unacknowledged, so the broker keeps it; offered again shortly, since the broker itself would
            // redeliver only after a reconnect, and meanwhile it counts against the receive maximum.
            _lastError = $"lines of {failed.NodeKey} not stored yet: {failed.Reason}";
            if (_pending.TryGetValue(failed.Tag, out var pending) && pending.Parts.FirstOrDefault(p => p.NodeKey == failed.NodeKey) is { } part)
                Timers.StartSingleTimer($"retry-{failed.Tag}-{failed.NodeKey}", new RetryIngest(part), _options.IngestRetryDelay);
        });
        Receive<RetryIngest>(retry =>
        {
            if (_pending.ContainsKey(retry.Part.Tag)) _nodes.Tell(retry.Part with { Rejected = RejectionCounts.None });
        });

        Receive<GetMqttStatus>(_ => Sender.Tell(Status()));
        Self.Tell(new Connect());
    }

    private void StartConnect()
    {
        if (_connected || _connecting) return;
        _connecting = true;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Server, _options.Port)
            .WithClientId(_options.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(uint.MaxValue)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_options.Username is not null) builder.WithCredentials(_options.Username, _options.Password);
        if (_options.Tls) builder.WithTlsOptions(tls => tls.UseTls());
        var options = builder.Build();
        var subscribe = _options.Topics.Aggregate(_factory.CreateSubscribeOptionsBuilder(),
            (b, topic) => b.WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce)).Build();
        var client = _client;
        ConnectAndSubscribeAsync(client, options, subscribe).PipeTo(Self,
            success: () => new Connected(),
            failure: error => new ConnectFailed(error.GetBaseException().Message));
    }

    private static async Task ConnectAndSubscribeAsync(IMqttClient client, MqttClientOptions options, MqttClientSubscribeOptions subscribe)
    {
        await client.ConnectAsync(options);
        // Subscribing after every connect: a broker that lost its sessions (restarted without persistence) needs it.
        await client.SubscribeAsync(subscribe);
    }

    private void ScheduleReconnect()
    {
        var delay = Backoff.Exponential(_options.MinReconnectDelay, _options.MaxReconnectDelay, _failedConnects);
        Timers.StartSingleTimer("connect", new Connect(), Backoff.EqualJitter(delay, _jitter));
    }

    private void OnMessage(MessageArrived arrived)
    {
        var args = arrived.Args;
        _messages++;
        _lastMessage = Now;
        var payload = args.ApplicationMessage.Payload;
        var topicNode = TopicNodeId(args.ApplicationMessage.Topic);

        string? dropped = payload.Length switch
        {
            0 => "empty",
            var n when n > _options.MaxPayloadBytes => "too_large",
            _ => null,
        };
        var bytes = dropped is null ? payload.ToArray() : [];
        if (dropped is null && !Utf8.IsValid(bytes)) dropped = "not_utf8";
        if (dropped is not null)
        {
            Drop(dropped);
            Acknowledge(args);
            return;
        }

        var parsed = LineParser.ParsePayload(bytes, Now.ToUnixTimeSeconds());
        var byNode = parsed.Lines.GroupBy(l => l.NodeId, StringComparer.Ordinal).ToList();
        _mismatches += byNode.Count(g => topicNode is not null && g.Key != topicNode);
        if (byNode.Count == 0)
        {
            if (parsed.Rejections.Total > 0 && topicNode is not null)
                _nodes.Tell(new IngestLines(topicNode, [], parsed.Rejections, 0));
            Drop("no_valid_line");
            Acknowledge(args);
            return;
        }

        var tag = ++_tag;
        var parts = byNode.Select((g, i) => new IngestLines(g.Key, g.ToList(), i == 0 ? parsed.Rejections : RejectionCounts.None, tag)).ToList();
        _pending[tag] = new Pending(args, parts.Count, parts);
        foreach (var part in parts) _nodes.Tell(part);
    }

    private void Settle(long tag)
    {
        if (!_pending.TryGetValue(tag, out var pending)) return;
        if (pending.Outstanding > 1)
        {
            _pending[tag] = pending with { Outstanding = pending.Outstanding - 1 };
            return;
        }
        _pending.Remove(tag);
        Acknowledge(pending.Args);
    }

    private void Acknowledge(MqttApplicationMessageReceivedEventArgs args) =>
        args.AcknowledgeAsync(CancellationToken.None).PipeTo(Self, success: () => Done.Instance, failure: _ => Done.Instance);

    private void Drop(string kind) => _dropped[kind] = _dropped.GetValueOrDefault(kind) + 1;

    /// <summary><c>/isems/&lt;nodeId&gt;/csvlog</c> and <c>isems/&lt;nodeId&gt;/csvlog</c>: the segment before the last.</summary>
    public static string? TopicNodeId(string topic)
    {
        var parts = topic.Split('/');
        return parts.Length >= 2 && LineParser.IsValidNodeId(parts[^2]) ? parts[^2] : null;
    }

    private MqttStatus Status() => new(
        Broker, _connected,
        _connected && (_lastMessage ?? _connectedSince) < Now - _options.Silence,
        _connectedSince, _lastMessage, _messages, _reconnects, _lastError,
        new Dictionary<string, long>(_dropped), _mismatches, _pending.Count);

    private string Broker => $"{_options.Server}:{_options.Port}";

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    protected override void PostStop()
    {
        // A clean disconnect keeps the session at the broker; whatever was not acknowledged comes again next time.
        _client.DisconnectAsync().ContinueWith(_ => _client.Dispose());
    }
}
