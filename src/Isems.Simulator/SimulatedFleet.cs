using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using Isems.Simulator.Http;

namespace Isems.Simulator;

/// <summary>
/// Many simulated ISEMS nodes behind one loopback port, each under its own first path segment
/// (<c>http://127.0.0.1:port/{nodeId}/ISEMS/ffopenmppt.log</c>), served until disposed.
/// </summary>
public sealed class SimulatedFleet : IAsyncDisposable
{
    /// <summary>Asked of the kernel, which caps it (net.core.somaxconn): bursts of thousands of connects must not be refused.</summary>
    private const int Backlog = 8192;

    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, SimulatedNode> _nodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Connection, Task> _open = new();
    private readonly Lock _addLock = new();
    private readonly Task[] _acceptLoops;
    private IReadOnlyCollection<SimulatedNode> _ordered = Array.Empty<SimulatedNode>().AsReadOnly();
    private long _requests;
    private long _bytesServed;
    private int _disposed;

    private SimulatedFleet(TcpListener listener, TimeProvider clock)
    {
        _listener = listener;
        _clock = clock;
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        // A few accept loops, so a burst of connects is taken off the backlog while handlers start.
        _acceptLoops = Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 2, 4))
            .Select(_ => Task.Run(AcceptLoopAsync))
            .ToArray();
    }

    /// <summary>Binds 127.0.0.1 on <paramref name="port"/> (0 = a free port) and serves until disposed.</summary>
    public static SimulatedFleet Start(int port = 0, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(Backlog);
        return new SimulatedFleet(listener, clock ?? TimeProvider.System);
    }

    /// <summary><c>http://127.0.0.1:{port}/</c></summary>
    public Uri BaseAddress { get; }

    /// <summary>The nodes in the order they were added.</summary>
    public IReadOnlyCollection<SimulatedNode> Nodes => Volatile.Read(ref _ordered);

    public SimulatedNode this[string nodeId] =>
        _nodes.TryGetValue(nodeId, out var node) ? node : throw new KeyNotFoundException($"no simulated node '{nodeId}'");

    /// <summary>Requests received, all nodes (and unknown paths) together.</summary>
    public long RequestsServed => Interlocked.Read(ref _requests);

    /// <summary>Body bytes written, all nodes together.</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>
    /// Raised for every request to a node, with the asking client's endpoint, before it is answered: the client's
    /// socket is still open then, so a test can tell which of several local processes asked (see
    /// <c>Isems.Testing.LoopbackPeers</c>). Handlers run on the connection's task and delay the answer meanwhile.
    /// </summary>
    public event Action<SimulatedNode, IPEndPoint>? NodeRequested;

    /// <summary>
    /// Adds a node with <paramref name="historyLines"/> lines already logged, one per interval (router 60 s,
    /// ESP 15 s), the newest at the clock's now.
    /// </summary>
    public SimulatedNode AddNode(string nodeId, NodeKind kind = NodeKind.Router, int historyLines = 10)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        if (nodeId.Contains('/')) throw new ArgumentException("a node id cannot hold '/': it is a path segment", nameof(nodeId));
        var node = new SimulatedNode(nodeId, kind, BaseAddress, _clock, historyLines);
        lock (_addLock)
        {
            if (!_nodes.TryAdd(nodeId, node)) throw new ArgumentException($"node '{nodeId}' already exists", nameof(nodeId));
            // Copied on write: readers enumerate a snapshot while nodes are added.
            _ordered = _ordered.Append(node).ToArray().AsReadOnly();
        }
        return node;
    }

    internal bool TryGetNode(string nodeId, [MaybeNullWhen(false)] out SimulatedNode node) => _nodes.TryGetValue(nodeId, out node);

    /// <summary>Completes when the fleet is disposed: hanging connections wait on it.</summary>
    internal Task Stopped => _stopped.Task;

    internal void CountRequest() => Interlocked.Increment(ref _requests);

    internal void OnNodeRequested(SimulatedNode node, EndPoint? client)
    {
        if (client is IPEndPoint peer) NodeRequested?.Invoke(node, peer);
    }

    internal void CountBytes(long bytes) => Interlocked.Add(ref _bytesServed, bytes);

    private async Task AcceptLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(stopping);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // A connect aborted before it was accepted, or out of descriptors for a moment: keep accepting.
                await Task.Delay(10, CancellationToken.None);
                continue;
            }
            Serve(socket);
        }
    }

    private void Serve(Socket socket)
    {
        var connection = new Connection(socket, this, _stopping.Token);
        var run = new Task<Task>(connection.RunAsync);
        _open[connection] = run.Unwrap().ContinueWith(_ => _open.TryRemove(connection, out Task? _), TaskScheduler.Default);
        // Registered before it runs, so a dispose racing with the accept still finds and closes it.
        run.Start(TaskScheduler.Default);
        if (_stopping.IsCancellationRequested) connection.Abort();
    }

    /// <summary>Stops listening and closes every open connection, hanging ones included.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _stopped.TrySetResult();
        _listener.Stop();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        var open = _open.ToArray();
        foreach (var (connection, _) in open) connection.Abort();
        try
        {
            await Task.WhenAll(open.Select(c => c.Value)).WaitAsync(DisposeWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A handler stuck past its socket's close is not worth blocking a test run for.
        }
    }
}
