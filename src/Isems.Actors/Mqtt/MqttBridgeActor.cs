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

/// <summary>
/// The link to the MQTT broker. Owns one MQTTnet client per connection: connects under a fixed client id with a
/// persistent session, subscribes with QoS 1, reconnects with capped, jittered backoff, and pings to notice a
/// half-open link. Each message's lines go to their node's actor; the message is acknowledged to the broker only once
/// its lines are committed (or found bad), so a crash in between loses nothing: the broker delivers it again. At most
/// <see cref="MqttOptions.MaxAwaitingCommit"/> messages wait for their commit: beyond that the bridge stops reading
/// from the socket (<see cref="ReadGate"/>), and the broker keeps the rest. The library's callbacks only tell this
/// actor; they never touch its state.
/// </summary>
public sealed class MqttBridgeActor : ReceiveActor, IWithTimers
{
    /// <summary>How long a retained publication may wait for the broker's acknowledgement.</summary>
    public static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    // Every connection gets a client of its own and a number. A message carries its connection's number: an
    // acknowledgement is only valid on the connection that delivered the message (packet ids are reused on the
    // next one, so acknowledging a stale one there would acknowledge a different message, which would be lost).
    private sealed record Connect;
    private sealed record Connected(int Connection);
    private sealed record ConnectFailed(int Connection, string Error);
    private sealed record Disconnected(int Connection, string Reason);
    private sealed record CheckLink;
    private sealed record LinkChecked(int Connection, bool Alive);
    private sealed record MessageArrived(int Connection, MqttApplicationMessageReceivedEventArgs Args);
    private sealed record Pending(MqttApplicationMessageReceivedEventArgs Args, int Outstanding, IReadOnlyList<IngestLines> Parts,
        System.Diagnostics.Activity? Span)
    {
        public DateTimeOffset SentAt { get; init; }
        public IReadOnlyList<string> Answered { get; init; } = [];
    }
    private sealed record ResendUnanswered;
    private sealed record RetryIngest(IngestLines Part);

    private readonly MqttOptions _options;
    private readonly IActorRef _nodes;
    private readonly MqttClientFactory _factory = new();
    private readonly Random _jitter;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly Dictionary<string, long> _dropped = new(StringComparer.Ordinal);
    private IMqttClient? _client;
    private ReadGate _gate;
    private int _connection;
    private long _tag, _messages, _reconnects, _mismatches, _redelivered, _acknowledged;
    private int _failedConnects, _peakPending;
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
        _gate = new ReadGate(options.MaxAwaitingCommit);

        Receive<Connect>(_ => StartConnect());
        Receive<Connected>(connected => connected.Connection == _connection, _ =>
        {
            _connecting = false;
            if (_connectedSince is not null || _reconnects > 0) _log.Info("MQTT link to {0} is up again", Broker);
            else _log.Info("MQTT link to {0} is up", Broker);
            _connected = true;
            _failedConnects = 0;
            _connectedSince = Now;
            Timers.StartPeriodicTimer("check", new CheckLink(), _options.CheckInterval);
            Context.System.EventStream.Publish(MqttLinkUp.Instance);
        });
        Receive<ConnectFailed>(failed => failed.Connection == _connection, failed =>
        {
            _connecting = false;
            _lastError = failed.Error;
            if (_failedConnects++ == 0) _log.Warning("MQTT broker {0} unreachable, retrying: {1}", Broker, failed.Error);
            ScheduleReconnect();
        });
        Receive<Disconnected>(lost => lost.Connection == _connection, lost =>
        {
            if (!_connected) return;
            _connected = false;
            _connectedSince = null;
            _lastError = lost.Reason;
            _reconnects++;
            // Unacknowledged messages will come again from the broker's session: forget them here.
            _pending.Clear();
            _gate.Release();
            Timers.Cancel("check");
            _log.Warning("MQTT link to {0} lost: {1}", Broker, lost.Reason);
            ScheduleReconnect();
        });
        // News of an earlier connection: that client is gone already.
        Receive<Connected>(_ => { });
        Receive<ConnectFailed>(_ => { });
        Receive<Disconnected>(_ => { });
        Receive<CheckLink>(_ =>
        {
            // A closed gate with nothing awaiting commit and nothing arriving for a whole check interval means a
            // counted packet never reached this actor (the library dropped it): without this the link would stay
            // paused for good. Reading on costs at most what the count had leaked.
            if (_gate.IsClosed && _pending.Count == 0 && !(_lastMessage > Now - _options.CheckInterval))
            {
                _log.Warning("MQTT: reading was paused with nothing awaiting commit ({0} counted); reading on", _gate.Unsettled);
                _gate.Reset();
            }
            // Messages arriving prove the link; a ping queued behind thousands of them could time out and
            // tear down a healthy link under load. Only a silent link is pinged, and not while the bridge itself
            // stopped reading (the answer would wait behind the unread messages).
            if (_lastMessage > Now - _options.CheckInterval || _gate.IsClosed || _client is not { } client) return;
            var connection = _connection;
            client.TryPingAsync().PipeTo(Self, success: alive => new LinkChecked(connection, alive));
        });
        Receive<LinkChecked>(check =>
        {
            if (check.Alive || !_connected || check.Connection != _connection) return;
            Self.Tell(new Disconnected(check.Connection, "the broker did not answer a ping"));
            _client?.DisconnectAsync().PipeTo(Self, success: () => Done.Instance, failure: _ => Done.Instance);
        });
        Receive<Done>(_ => { });

        // A message of an earlier connection is not acknowledged: the broker sends it again on this one.
        Receive<MessageArrived>(arrived => arrived.Connection == _connection, OnMessage);
        Receive<MessageArrived>(_ => { });
        Receive<LinesIngested>(ingested => Settle(ingested.Tag, ingested.NodeKey));
        Receive<ResendUnanswered>(_ => ResendUnansweredParts());
        Receive<LinesNotIngested>(failed =>
        {
            // Still unacknowledged, so the broker keeps it; offered again shortly, since the broker itself would
            // redeliver only after a reconnect.
            _lastError = $"lines of {failed.NodeKey} not stored yet: {failed.Reason}";
            if (_pending.TryGetValue(failed.Tag, out var pending) && pending.Parts.FirstOrDefault(p => p.NodeKey == failed.NodeKey) is { } part)
                Timers.StartSingleTimer($"retry-{failed.Tag}-{failed.NodeKey}", new RetryIngest(part), _options.IngestRetryDelay);
        });
        Receive<RetryIngest>(retry =>
        {
            if (_pending.ContainsKey(retry.Part.Tag)) _nodes.Tell(retry.Part with { Rejected = RejectionCounts.None });
        });

        Receive<GetMqttStatus>(_ => Sender.Tell(Status()));
        Receive<PublishRetained>(Publish);
        Self.Tell(new Connect());
        if (options.ResendUnansweredAfter is { } after) Timers.StartPeriodicTimer("resend", new ResendUnanswered(), after);
    }

    private void StartConnect()
    {
        if (_connected || _connecting) return;
        _connecting = true;
        _pending.Clear();
        _client?.Dispose();
        _gate.Release();
        _gate = new ReadGate(_options.MaxAwaitingCommit);
        var connection = ++_connection;
        var self = Self;
        var client = _client = _factory.CreateMqttClient();
        client.ApplicationMessageReceivedAsync += args =>
        {
            args.AutoAcknowledge = false;
            self.Tell(new MessageArrived(connection, args));
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += args =>
        {
            if (args.ClientWasConnected) self.Tell(new Disconnected(connection, args.Exception?.Message ?? args.Reason.ToString()));
            return Task.CompletedTask;
        };

        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Server, _options.Port)
            .WithStreamProvider(new GatedStreamProvider(_options, _gate))
            .WithClientId(_options.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithReceiveMaximum(_options.MaxAwaitingCommit)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(uint.MaxValue)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_options.Username is not null) builder.WithCredentials(_options.Username, _options.Password);
        var options = builder.Build();
        var subscribe = _options.Topics.Aggregate(_factory.CreateSubscribeOptionsBuilder(),
            (b, topic) => b.WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce)).Build();
        ConnectAndSubscribeAsync(client, options, subscribe).PipeTo(Self,
            success: () => new Connected(connection),
            failure: error => new ConnectFailed(connection, error.GetBaseException().Message));
    }

    private static async Task ConnectAndSubscribeAsync(IMqttClient client, MqttClientOptions options, MqttClientSubscribeOptions subscribe)
    {
        var result = await client.ConnectAsync(options);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
            throw new InvalidOperationException($"the broker refused the connection: {result.ResultCode} {result.ReasonString}".TrimEnd());
        // Subscribing after every connect: a broker that lost its sessions (restarted without persistence) needs it.
        await client.SubscribeAsync(subscribe);
    }

    /// <summary>
    /// Publications share the connection the lines arrive on (one client id, one link to watch), but not the
    /// ingestion's path: the task runs apart, and its answer goes straight to whoever asked.
    /// </summary>
    private void Publish(PublishRetained publish)
    {
        if (!_connected || _client is not { } client)
        {
            Sender.Tell(new RetainedNotPublished(publish.Topic, _lastError is null ? "the broker link is down" : $"the broker link is down: {_lastError}"));
            return;
        }
        var message = new MqttApplicationMessageBuilder().WithTopic(publish.Topic).WithPayload(publish.Payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build();
        var timeout = new CancellationTokenSource(PublishTimeout);
        client.PublishAsync(message, timeout.Token).ContinueWith(t =>
        {
            timeout.Dispose();
            if (!t.IsCompletedSuccessfully) return (object)new RetainedNotPublished(publish.Topic, t.Exception?.GetBaseException().Message ?? "no acknowledgement in time");
            // MQTT 5: "no matching subscribers" is a success; the retained copy is kept all the same.
            return t.Result.IsSuccess || t.Result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers
                ? new RetainedPublished(publish.Topic)
                : new RetainedNotPublished(publish.Topic, $"the broker refused it: {t.Result.ReasonCode} {t.Result.ReasonString}".TrimEnd());
        }, TaskScheduler.Default).PipeTo(Sender);
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
        if (args.ApplicationMessage.Dup) _redelivered++;
        _lastMessage = Now;
        var payload = args.ApplicationMessage.Payload;
        var topicNode = TopicNodeId(args.ApplicationMessage.Topic);
        // A span from arrival to acknowledgement (only while a tracer listens).
        var span = CollectorTracing.Start("mqtt message", parent: null, kind: System.Diagnostics.ActivityKind.Consumer);
        span?.SetTag("messaging.system", "mqtt");
        span?.SetTag("messaging.destination.name", args.ApplicationMessage.Topic);
        span?.SetTag("messaging.message.body.size", payload.Length);

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
            Drop(dropped, span);
            Acknowledge(args);
            return;
        }

        // The JSON variant (SPEC §2) by its topic; either way the same measurements, validated the same way.
        var parsed = IsJsonTopic(args.ApplicationMessage.Topic)
            ? JsonMeasurementParser.Parse(bytes, Now.ToUnixTimeSeconds())
            : LineParser.ParsePayload(bytes, Now.ToUnixTimeSeconds());
        if (parsed is null)
        {
            Drop("not_json", span);
            Acknowledge(args);
            return;
        }
        var byNode = parsed.Lines.GroupBy(l => l.NodeId, StringComparer.Ordinal).ToList();
        _mismatches += byNode.Count(g => topicNode is not null && g.Key != topicNode);
        if (byNode.Count == 0)
        {
            if (parsed.Rejections.Total > 0 && topicNode is not null)
                _nodes.Tell(new IngestLines(topicNode, [], parsed.Rejections, 0));
            Drop("no_valid_line", span);
            Acknowledge(args);
            return;
        }

        var tag = ++_tag;
        var parts = byNode.Select((g, i) => new IngestLines(g.Key, g.ToList(), i == 0 ? parsed.Rejections : RejectionCounts.None, tag)).ToList();
        span?.SetTag("isems.lines.parsed", parsed.Lines.Count);
        _pending[tag] = new Pending(args, parts.Count, parts, span) { SentAt = Now };
        _peakPending = Math.Max(_peakPending, _pending.Count);
        foreach (var part in parts) _nodes.Tell(part);
    }

    private void Settle(long tag, string nodeKey)
    {
        if (!_pending.TryGetValue(tag, out var pending)) return;
        // A part offered again may be answered twice (the first answer was late, not lost): counted once.
        if (pending.Answered.Contains(nodeKey)) return;
        if (pending.Outstanding > 1)
        {
            _pending[tag] = pending with { Outstanding = pending.Outstanding - 1, Answered = [.. pending.Answered, nodeKey] };
            return;
        }
        _pending.Remove(tag);
        Acknowledge(pending.Args);
        pending.Span.End();
    }

    /// <summary>
    /// Cluster mode: the parts of messages left unanswered for <see cref="MqttOptions.ResendUnansweredAfter"/> went to a
    /// member that died with them; sent again, now to the node's new home (the broker would redeliver the message only
    /// after this member reconnects).
    /// </summary>
    private void ResendUnansweredParts()
    {
        var before = Now - _options.ResendUnansweredAfter!.Value;
        List<long>? resent = null;
        foreach (var (tag, pending) in _pending)
        {
            if (pending.SentAt > before) continue;
            foreach (var part in pending.Parts)
                if (!pending.Answered.Contains(part.NodeKey)) _nodes.Tell(part with { Rejected = RejectionCounts.None });
            (resent ??= []).Add(tag);
        }
        if (resent is null) return;
        foreach (var tag in resent) _pending[tag] = _pending[tag] with { SentAt = Now };
        _log.Info("Offered the lines of {0} unanswered MQTT messages again (their node's member may have died)", resent.Count);
    }

    private void Acknowledge(MqttApplicationMessageReceivedEventArgs args)
    {
        _acknowledged++;
        _gate.Settled();
        Task sent;
        // MQTTnet throws here, not in the task, when the connection has just gone: the broker then keeps the message.
        try { sent = args.AcknowledgeAsync(CancellationToken.None); }
        catch (Exception e) when (e is NullReferenceException or ObjectDisposedException or InvalidOperationException) { return; }
        sent.PipeTo(Self, success: () => Done.Instance, failure: _ => Done.Instance);
    }

    private void Drop(string kind, System.Diagnostics.Activity? span)
    {
        _dropped[kind] = _dropped.GetValueOrDefault(kind) + 1;
        span?.SetTag("isems.mqtt.dropped", kind);
        span.End();
    }

    /// <summary><c>&lt;prefix&gt;/&lt;nodeId&gt;/data.json</c>: one JSON object per message.</summary>
    public static bool IsJsonTopic(string topic) => topic.EndsWith("/data.json", StringComparison.Ordinal);

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
        new Dictionary<string, long>(_dropped), _mismatches, _pending.Count, _peakPending, _redelivered, _acknowledged, _gate.Unsettled, _gate.IsClosed);

    private string Broker => $"{_options.Server}:{_options.Port}";

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    protected override void PostStop()
    {
        // A clean disconnect keeps the session at the broker; whatever was not acknowledged comes again next time.
        _gate.Release();
        if (_client is { } client) client.DisconnectAsync().ContinueWith(_ => client.Dispose());
    }
}
