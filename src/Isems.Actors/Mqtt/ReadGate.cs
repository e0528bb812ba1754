using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;

namespace Isems.Actors.Mqtt;

/// <summary>
/// Stops reading from the broker's socket while too many messages are unsettled (arrived, not yet acknowledged), and
/// reads on once half of them are. The broker then fills the TCP window and holds the rest itself, so a backlog of
/// any size drains in bounded memory. MQTT 5's receive maximum should do this, but Mosquitto 2.0.11 (Debian's and
/// Ubuntu's) releases up to a receive maximum's worth of queued messages on every in-order acknowledgement
/// (measured: 80,273 in flight with a receive maximum of 2,000), and MQTTnet queues whatever arrives without bound.
/// Counted where messages enter the process, in the socket's byte stream (<see cref="GatedStream"/>), not in the
/// client's callback or the actor: MQTTnet reads ahead into a queue of its own while its callback waits for a thread
/// (measured: 20,000 messages past a bound of 2,000 counted in the actor). One per connection.
/// </summary>
public sealed class ReadGate(int maxUnsettled)
{
    private readonly Lock _lock = new();
    private readonly int _resumeAt = maxUnsettled / 2;
    private int _unsettled;
    private TaskCompletionSource? _waiting;

    public int Unsettled => Volatile.Read(ref _unsettled);

    public bool IsClosed => Unsettled >= maxUnsettled;

    /// <summary>From the stream, as PUBLISH packets are read.</summary>
    internal void Arrived(int publishes) => Interlocked.Add(ref _unsettled, publishes);

    /// <summary>From the actor, once a message is acknowledged.</summary>
    public void Settled()
    {
        if (Interlocked.Decrement(ref _unsettled) <= _resumeAt) Release();
    }

    /// <summary>Counts nothing unsettled any more and reads on (see the bridge's link check).</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _unsettled, 0);
        Release();
    }

    /// <summary>The connection is gone: nothing may wait on it any more.</summary>
    public void Release()
    {
        TaskCompletionSource? waiting;
        lock (_lock) (waiting, _waiting) = (_waiting, null);
        waiting?.TrySetResult();
    }

    internal Task WaitAsync(CancellationToken cancellationToken)
    {
        if (Unsettled < maxUnsettled) return Task.CompletedTask;
        lock (_lock)
        {
            // Checked again under the lock: a settlement in between would otherwise release nobody.
            if (Unsettled <= _resumeAt) return Task.CompletedTask;
            _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiting.Task.WaitAsync(cancellationToken);
        }
    }
}

/// <summary>
/// Opens the bridge's connection: TCP with the kernel's own buffer sizing (MQTTnet fixes both buffers at 8 KiB,
/// which shrinks the receive window below one loopback segment and slowed a backlog to a few KB/s), TLS when asked,
/// and reads that wait at the <see cref="ReadGate"/>.
/// </summary>
internal sealed class GatedStreamProvider(MqttOptions options, ReadGate gate) : IMqttClientStreamProvider
{
    public async Task<Stream> ConnectAsync(EndPoint remoteEndpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(remoteEndpoint, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Tls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = options.Server,
                    RemoteCertificateValidationCallback = TrustedCertificate,
                }, cancellationToken).ConfigureAwait(false);
            }
            return new GatedStream(stream, gate);
        }
        catch
        {
            if (stream is null) socket.Dispose();
            else await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The system's trust store, or only the CA in <see cref="MqttOptions.TlsCaFile"/> when one is given.</summary>
    private bool TrustedCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (options.TlsCaFile is null || certificate is null) return errors == SslPolicyErrors.None;
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var ca = X509CertificateLoader.LoadCertificateFromFile(options.TlsCaFile);
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(ca);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(new X509Certificate2(certificate));
    }
}

/// <summary>
/// A stream that counts the PUBLISH packets read through it (following MQTT's fixed headers: a type byte, a
/// variable-length remaining length, the rest) and whose reads wait while the gate is closed. Writes
/// (acknowledgements, pings) always go through.
/// </summary>
internal sealed class GatedStream(Stream inner, ReadGate gate) : Stream
{
    private const int PublishPacketType = 3;

    /// <summary>The most read at once: what one read brings past a closed gate is bounded by it (about 25 ESP messages).</summary>
    private const int MaxRead = 16 * 1024;

    private enum Part { Header, Length, Rest }

    private Part _part = Part.Header;
    private bool _publish;
    private int _lengthShift;
    private long _rest;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (buffer.Length > MaxRead) buffer = buffer[..MaxRead];
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        var publishes = CountPublishes(buffer.Span[..read]);
        if (publishes > 0) gate.Arrived(publishes);
        return read;
    }

    /// <summary>PUBLISH packets completed in these bytes: a packet counts once its last byte is read, when MQTTnet can deliver it.</summary>
    private int CountPublishes(ReadOnlySpan<byte> data)
    {
        var publishes = 0;
        var i = 0;
        while (i < data.Length)
        {
            switch (_part)
            {
                case Part.Header:
                    _publish = data[i++] >> 4 == PublishPacketType;
                    (_part, _rest, _lengthShift) = (Part.Length, 0, 0);
                    break;
                case Part.Length:
                    var b = data[i++];
                    _rest |= (long)(b & 0x7F) << _lengthShift;
                    _lengthShift += 7;
                    if ((b & 0x80) == 0) _part = Part.Rest;
                    break;
                case Part.Rest:
                    var skip = (int)Math.Min(_rest, data.Length - i);
                    i += skip;
                    _rest -= skip;
                    break;
            }
            if (_part == Part.Rest && _rest == 0)
            {
                if (_publish) publishes++;
                _part = Part.Header;
            }
        }
        return publishes;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
