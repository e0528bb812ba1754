using System.Text;

namespace Isems.Simulator.Logs;

/// <summary>
/// A router's <c>ffopenmppt.log</c>: newline-terminated lines, oldest first, kept as the bytes the node serves so a
/// request costs no formatting. Appends write past the served length and a rotation starts a new array, so bytes
/// already handed out stay valid.
/// </summary>
internal sealed class RouterLog : NodeLog
{
    /// <summary>About 61 hours of one line a minute; the node rotates the file away beyond that (SPEC §2).</summary>
    public const int MaxLines = 3660;

    private byte[] _buffer = [];
    private int _length;
    private int _lineCount;
    private int _goodLines;

    public override int GoodLineCount => _goodLines;

    public override ReadOnlyMemory<byte> Content => _buffer.AsMemory(0, _length);

    public override int Survivors(int appended)
    {
        var total = _lineCount + appended;
        return total <= MaxLines ? appended : (total - 1) % MaxLines + 1;
    }

    public override void Reserve(int lines, int bytesPerLine)
    {
        var needed = (long)_length + (long)Math.Min(lines, MaxLines) * bytesPerLine;
        if (needed > _buffer.Length) Resize((int)Math.Min(needed, Array.MaxLength));
    }

    public override void Add(ReadOnlySpan<byte> line, bool good)
    {
        if (_lineCount == MaxLines) Clear();
        var needed = _length + line.Length + 1;
        if (needed > _buffer.Length) Resize(Math.Max(needed, Math.Max(4096, _buffer.Length + _buffer.Length / 4)));
        line.CopyTo(_buffer.AsSpan(_length));
        _buffer[_length + line.Length] = (byte)'\n';
        _length = needed;
        _lineCount++;
        if (good) _goodLines++;
    }

    public override void Clear()
    {
        // A fresh array, not a reset length: responses in flight may still be sending the old bytes.
        _buffer = [];
        _length = 0;
        _lineCount = 0;
        _goodLines = 0;
    }

    public override IReadOnlyList<string> Lines()
    {
        if (_length == 0) return [];
        var text = Encoding.UTF8.GetString(_buffer, 0, _length - 1);
        return text.Split('\n');
    }

    private void Resize(int capacity)
    {
        var bigger = new byte[capacity];
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        _buffer = bigger;
    }
}
