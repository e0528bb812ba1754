using System.IO.Compression;
using Isems.Simulator.Lines;
using Isems.Simulator.Logs;

namespace Isems.Simulator;

/// <summary>
/// One simulated node: its log, its misbehaviour and its counters. Tests change it while it is being served, so
/// the log sits behind a lock and the counters are atomic.
/// </summary>
public sealed class SimulatedNode
{
    private readonly Lock _lock = new();
    private readonly NodeLog _log;
    private readonly LineFormatter _formatter;
    private readonly byte[] _scratch;
    private readonly TimeProvider _clock;
    private long _newest;
    private long _appended;
    private int _badLineEvery;
    private volatile NodeFault _fault;
    private TaskCompletionSource _faultChanged = NewSignal();
    private volatile bool _honorRange = true;
    private volatile bool _gzip;
    private int _requests;
    private long _bytesServed;
    private volatile GzipEntry? _gzipCache;

    internal SimulatedNode(string nodeId, NodeKind kind, Uri baseAddress, TimeProvider clock, int historyLines)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(historyLines);
        NodeId = nodeId;
        Kind = kind;
        _clock = clock;
        _formatter = new LineFormatter(nodeId, kind);
        _scratch = new byte[_formatter.MaxLineBytes];
        _log = kind == NodeKind.Router ? new RouterLog() : new EspLog();
        var path = kind == NodeKind.Router ? "/ISEMS/ffopenmppt.log" : "/csv.log";
        LogUrl = new Uri(baseAddress, Uri.EscapeDataString(nodeId) + path);
        if (historyLines > 0) AppendFrom(Now - (long)(historyLines - 1) * IntervalSeconds, historyLines);
    }

    public string NodeId { get; }

    public NodeKind Kind { get; }

    /// <summary>Router: <c>{base}{nodeId}/ISEMS/ffopenmppt.log</c>; ESP: <c>{base}{nodeId}/csv.log</c>.</summary>
    public Uri LogUrl { get; }

    public NodeFault Fault
    {
        get => _fault;
        set
        {
            TaskCompletionSource changed;
            lock (_lock)
            {
                _fault = value;
                changed = _faultChanged;
                _faultChanged = NewSignal();
            }
            changed.TrySetResult();
        }
    }

    /// <summary>Routers only: when false, a Range header is ignored and the whole log sent. ESP boards never honour Range.</summary>
    public bool HonorRange { get => _honorRange; set => _honorRange = value; }

    /// <summary>Answer full responses with <c>Content-Encoding: gzip</c> when the request accepts it; never a 206.</summary>
    public bool Gzip { get => _gzip; set => _gzip = value; }

    /// <summary>0 = off; N = every Nth appended line is garbage instead of a measurement.</summary>
    public int BadLineEvery
    {
        get => Volatile.Read(ref _badLineEvery);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _badLineEvery, value);
        }
    }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Body bytes written to clients.</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>The timestamp of the newest line this node logged (also when rotated away); 0 before its first line.</summary>
    public long NewestTimestamp
    {
        get { lock (_lock) return _newest; }
    }

    /// <summary>
    /// Router: the lines of the current log, oldest first. ESP: the lines it serves now (its last five, or the
    /// placeholder before its first reading). Without line endings; good and garbage alike.
    /// </summary>
    public IReadOnlyList<string> Lines
    {
        get { lock (_lock) return _log.Lines(); }
    }

    /// <summary>How many of <see cref="Lines"/> are valid measurements.</summary>
    public int GoodLineCount
    {
        get { lock (_lock) return _log.GoodLineCount; }
    }

    internal int IntervalSeconds => Kind == NodeKind.Router ? 60 : 15;

    private long Now => _clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Appends lines, each one interval after the newest (the first line of a node that never logged is at the clock's now).</summary>
    public void Append(int lines = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lines);
        if (lines == 0) return;
        lock (_lock)
            AppendFrom(_newest == 0 ? Now : _newest + IntervalSeconds, lines);
    }

    /// <summary>Router: the log file is rotated away; the URL answers 404 until the next <see cref="Append"/> starts a fresh log.</summary>
    public void Rotate()
    {
        if (Kind != NodeKind.Router)
            throw new InvalidOperationException("ESP boards keep their last lines in memory; there is no log file to rotate.");
        lock (_lock) _log.Clear();
    }

    /// <summary>
    /// Router: the log rotated and written again with exactly these lines while nobody looked. Lines of the same lengths
    /// as before put every <c>\n</c> where the old log had one: only their content tells the two logs apart.
    /// </summary>
    public void ReplaceLog(IEnumerable<string> lines)
    {
        if (Kind != NodeKind.Router)
            throw new InvalidOperationException("ESP boards keep their last lines in memory; there is no log file to replace.");
        lock (_lock)
        {
            _log.Clear();
            foreach (var line in lines) _log.Add(System.Text.Encoding.UTF8.GetBytes(line), good: true);
        }
    }

    /// <summary>What the node serves now; empty when a router has no log file.</summary>
    internal ReadOnlyMemory<byte> Content()
    {
        lock (_lock) return _log.Content;
    }

    /// <summary>The gzip form of <paramref name="content"/>, compressed once per log version.</summary>
    internal ReadOnlyMemory<byte> Gzipped(ReadOnlyMemory<byte> content)
    {
        var cached = _gzipCache;
        if (cached is not null && cached.Source.Equals(content)) return cached.Compressed;
        using var output = new MemoryStream(content.Length / 4 + 64);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(content.Span);
        var compressed = output.ToArray();
        _gzipCache = new GzipEntry(content, compressed);
        return compressed;
    }

    /// <summary>Completes when <see cref="Fault"/> is next set.</summary>
    internal Task FaultChanged
    {
        get { lock (_lock) return _faultChanged.Task; }
    }

    internal void CountRequest() => Interlocked.Increment(ref _requests);

    internal void CountBytes(long bytes) => Interlocked.Add(ref _bytesServed, bytes);

    private void AppendFrom(long firstTimestamp, int lines)
    {
        // Lines that a rotation (router) or the five-line window (ESP) would drop at once are never formatted:
        // a benchmark fleet appends thousands of lines per node.
        var kept = _log.Survivors(lines);
        if (kept < lines) _log.Clear();
        var badEvery = BadLineEvery;
        for (var i = 0; i < lines; i++)
        {
            var timestamp = firstTimestamp + (long)i * IntervalSeconds;
            var ordinal = ++_appended;
            if (i < lines - kept) continue;
            var garbage = badEvery > 0 && ordinal % badEvery == 0;
            var length = garbage
                ? _formatter.WriteGarbage(_scratch, timestamp, (int)(ordinal / badEvery))
                : _formatter.Write(_scratch, timestamp);
            if (i == lines - kept) _log.Reserve(kept, length + 8);
            _log.Add(_scratch.AsSpan(0, length), !garbage);
        }
        _newest = firstTimestamp + (long)(lines - 1) * IntervalSeconds;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record GzipEntry(ReadOnlyMemory<byte> Source, byte[] Compressed);
}
