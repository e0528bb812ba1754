using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Isems.Benchmarks;

/// <summary>
/// The MQTT side of a load generator, as <c>wrk</c> is for HTTP: MQTT 3.1.1 over one socket, QoS 1, packets encoded
/// by hand into one buffer and pipelined up to a window of unacknowledged messages. A general client (MQTTnet, one
/// awaited publish at a time) took the whole 2-core machine to publish 43,000 messages a second, CPU that the collector
/// under test then lacked; this one leaves it to the broker and the collector.
/// </summary>
internal sealed class MqttLoadPublisher : IAsyncDisposable
{
    private const int Window = 500;          // unacknowledged messages per connection
    private const int FlushBytes = 64 * 1024;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _window = new(Window, Window);
    private readonly Task _acks;
    private byte[] _buffer = new byte[FlushBytes * 2];
    private int _length;
    private ushort _packetId;

    private MqttLoadPublisher(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _acks = Task.Run(ReadAcksAsync);
    }

    public static async Task<MqttLoadPublisher> ConnectAsync(int port, string clientId)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var id = Encoding.UTF8.GetBytes(clientId);
        // CONNECT: protocol "MQTT" level 4, clean session, no keepalive (the run publishes without pause).
        byte[] variable = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 0];
        var connect = new List<byte> { 0x10 };
        connect.AddRange(RemainingLength(variable.Length + 2 + id.Length));
        connect.AddRange(variable);
        connect.Add((byte)(id.Length >> 8));
        connect.Add((byte)id.Length);
        connect.AddRange(id);
        var stream = tcp.GetStream();
        await stream.WriteAsync(connect.ToArray());
        var connack = new byte[4];
        await stream.ReadExactlyAsync(connack);
        if (connack[0] != 0x20 || connack[3] != 0) throw new InvalidOperationException($"broker refused the connection: {connack[3]}");
        return new MqttLoadPublisher(tcp);
    }

    /// <summary>Queues one QoS 1 PUBLISH; waits only when the window of unacknowledged messages is full.</summary>
    public async ValueTask PublishAsync(byte[] topic, byte[] payload)
    {
        if (!_window.Wait(0))
        {
            await FlushAsync();
            await _window.WaitAsync();
        }
        var remaining = 2 + topic.Length + 2 + payload.Length;
        var size = 1 + 4 + remaining;
        if (_length + size > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + size));
        var span = _buffer.AsSpan(_length);
        span[0] = 0x32; // PUBLISH, QoS 1
        var at = 1 + WriteRemainingLength(span[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)topic.Length);
        topic.CopyTo(span[(at + 2)..]);
        at += 2 + topic.Length;
        _packetId = (ushort)(_packetId % ushort.MaxValue + 1); // 1..65535, never 0
        BinaryPrimitives.WriteUInt16BigEndian(span[at..], _packetId);
        payload.CopyTo(span[(at + 2)..]);
        _length += at + 2 + payload.Length;
        if (_length >= FlushBytes) await FlushAsync();
    }

    /// <summary>Sends what is queued and waits until the broker has acknowledged every message.</summary>
    public async Task CompleteAsync()
    {
        await FlushAsync();
        for (var i = 0; i < Window; i++) await _window.WaitAsync();
        _window.Release(Window);
    }

    private async ValueTask FlushAsync()
    {
        if (_length == 0) return;
        await _stream.WriteAsync(_buffer.AsMemory(0, _length));
        _length = 0;
    }

    private async Task ReadAcksAsync()
    {
        // Only PUBACKs come back (0x40 0x02 id id): count them by their fixed 4 bytes.
        var buffer = new byte[64 * 1024];
        var pending = 0;
        int read;
        while ((read = await _stream.ReadAsync(buffer)) > 0)
        {
            pending += read;
            var acks = pending / 4;
            pending %= 4;
            if (acks > 0) _window.Release(acks);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.WriteAsync(new byte[] { 0xE0, 0x00 }); // DISCONNECT
        _tcp.Client.Shutdown(SocketShutdown.Send);
        await _acks;
        _tcp.Dispose();
        _window.Dispose();
    }

    private static byte[] RemainingLength(int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        return bytes[..WriteRemainingLength(bytes, value)].ToArray();
    }

    private static int WriteRemainingLength(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            destination[i++] = value > 0 ? (byte)(b | 0x80) : b;
        } while (value > 0);
        return i;
    }
}
