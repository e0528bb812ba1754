using System.Text;

namespace Isems.Simulator.Logs;

/// <summary>
/// An ESP board keeps only its last five readings in memory and serves them joined by <c>\n</c> with no trailing
/// newline; before its first reading it serves a placeholder line with timestamp 0.
/// </summary>
internal sealed class EspLog : NodeLog
{
    public const int KeptLines = 5;

    private static readonly byte[] Placeholder = Encoding.UTF8.GetBytes(SimulatedLines.EspPlaceholder);

    private readonly Queue<(byte[] Line, bool Good)> _lines = new(KeptLines + 1);
    private byte[]? _payload;

    public override int GoodLineCount => _lines.Count(l => l.Good);

    public override ReadOnlyMemory<byte> Content => _payload ??= Build();

    public override int Survivors(int appended) => Math.Min(appended, KeptLines);

    public override void Add(ReadOnlySpan<byte> line, bool good)
    {
        _lines.Enqueue((line.ToArray(), good));
        if (_lines.Count > KeptLines) _lines.Dequeue();
        _payload = null;
    }

    public override void Clear()
    {
        _lines.Clear();
        _payload = null;
    }

    public override IReadOnlyList<string> Lines() =>
        _lines.Count == 0 ? [SimulatedLines.EspPlaceholder] : _lines.Select(l => Encoding.UTF8.GetString(l.Line)).ToArray();

    private byte[] Build()
    {
        if (_lines.Count == 0) return Placeholder;
        var payload = new byte[_lines.Sum(l => l.Line.Length) + _lines.Count - 1];
        var at = 0;
        foreach (var (line, _) in _lines)
        {
            if (at > 0) payload[at++] = (byte)'\n';
            line.CopyTo(payload, at);
            at += line.Length;
        }
        return payload;
    }
}
