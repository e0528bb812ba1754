using System.Buffers.Text;

namespace Isems.Simulator.Lines;

/// <summary>
/// Appends the fields of a line as UTF-8 into a span. Numbers are written by hand as fixed-point: a benchmark
/// fleet formats millions of lines at start, and general-purpose number formatting dominated that.
/// </summary>
internal ref struct Utf8LineWriter(Span<byte> destination)
{
    private static readonly long[] Scales = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

    private readonly Span<byte> _destination = destination;
    private int _length;

    public readonly int Length => _length;

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_destination[_length..]);
        _length += bytes.Length;
    }

    public void Separator() => _destination[_length++] = (byte)';';

    public void Integer(long value)
    {
        if (!Utf8Formatter.TryFormat(value, _destination[_length..], out var written))
            throw new InvalidOperationException("line buffer too small");
        _length += written;
    }

    /// <summary>
    /// <paramref name="value"/> rounded to <paramref name="decimals"/> places, like <c>F2</c>; with
    /// <paramref name="trimZeros"/> trailing zeros and a bare point are dropped, like <c>0.###</c>.
    /// </summary>
    public void Fixed(double value, int decimals, bool trimZeros = false)
    {
        var scale = Scales[decimals];
        var scaled = (long)Math.Round(Math.Abs(value) * scale, MidpointRounding.AwayFromZero);
        if (value < 0 && scaled != 0) _destination[_length++] = (byte)'-';
        Integer(scaled / scale);
        var fraction = scaled % scale;
        if (trimZeros)
        {
            if (fraction == 0) return;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                decimals--;
            }
        }
        if (decimals == 0) return;
        _destination[_length++] = (byte)'.';
        for (var i = decimals - 1; i >= 0; i--)
        {
            _destination[_length + i] = (byte)('0' + fraction % 10);
            fraction /= 10;
        }
        _length += decimals;
    }

    /// <summary>Three lowercase hex digits, as the status field.</summary>
    public void Hex3(int value)
    {
        const string digits = "0123456789abcdef";
        _destination[_length++] = (byte)digits[(value >> 8) & 0xf];
        _destination[_length++] = (byte)digits[(value >> 4) & 0xf];
        _destination[_length++] = (byte)digits[value & 0xf];
    }
}
