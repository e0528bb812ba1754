using System.Buffers.Text;
using System.Globalization;

namespace Isems.Api.Json;

/// <summary>
/// Timestamps and numbers written as UTF-8 into a span, each exactly as the API wrote them before (an export or a year
/// of buckets writes hundreds of thousands): <c>yyyy-MM-ddTHH:mm:ssZ</c> with the date kept while the day is the same,
/// and doubles through the same formatter, the last value of each column kept with its text (a node's capacities,
/// position and many readings repeat row after row).
/// </summary>
internal sealed class Utf8Text(int columns)
{
    private long _day = long.MinValue;
    private readonly byte[] _date = new byte[16];
    private int _dateLength;
    private readonly ulong[] _bits = new ulong[columns];
    private readonly byte[][] _text = Enumerable.Range(0, columns).Select(_ => new byte[32]).ToArray();
    private readonly int[] _length = new int[columns]; // 0: nothing kept yet

    /// <summary>Unix seconds as <c>yyyy-MM-ddTHH:mm:ssZ</c> (20 bytes), as DateTime's custom format writes it.</summary>
    public int Time(long unixSeconds, Span<byte> destination)
    {
        var day = Math.DivRem(unixSeconds, 86_400, out var second);
        if (second < 0)
        {
            day--;
            second += 86_400;
        }
        if (day != _day)
        {
            DateTimeOffset.FromUnixTimeSeconds(day * 86_400).UtcDateTime.TryFormat(_date, out _dateLength, "yyyy-MM-dd'T'", CultureInfo.InvariantCulture);
            _day = day;
        }
        _date.AsSpan(0, _dateLength).CopyTo(destination);
        var d = destination[_dateLength..];
        var s = (int)second;
        Two(d, s / 3600);
        d[2] = (byte)':';
        Two(d[3..], s / 60 % 60);
        d[5] = (byte)':';
        Two(d[6..], s % 60);
        d[8] = (byte)'Z';
        return _dateLength + 9;
    }

    private static void Two(Span<byte> d, int value)
    {
        d[0] = (byte)('0' + value / 10);
        d[1] = (byte)('0' + value % 10);
    }

    /// <summary>
    /// A double as <see cref="System.Text.Json.Utf8JsonWriter"/> writes it (the shortest text that reads back the same),
    /// remembered per <paramref name="column"/>.
    /// </summary>
    public int Json(int column, double value, Span<byte> destination)
    {
        var bits = BitConverter.DoubleToUInt64Bits(value);
        if (_length[column] > 0 && _bits[column] == bits)
        {
            _text[column].AsSpan(0, _length[column]).CopyTo(destination);
            return _length[column];
        }
        if (!double.IsFinite(value))
            throw new ArgumentException($"{value} is not a valid JSON number.", nameof(value));
        Utf8Formatter.TryFormat(value, _text[column], out var written);
        _bits[column] = bits;
        _length[column] = written;
        _text[column].AsSpan(0, written).CopyTo(destination);
        return written;
    }

    /// <summary>
    /// A double as the export writes it: the shortest text that reads back the same (<c>R</c>), without an exponent
    /// (the line parser takes none), remembered per <paramref name="column"/>.
    /// </summary>
    public int Plain(int column, double value, Span<byte> destination)
    {
        var bits = BitConverter.DoubleToUInt64Bits(value);
        if (_length[column] > 0 && _bits[column] == bits)
        {
            _text[column].AsSpan(0, _length[column]).CopyTo(destination);
            return _length[column];
        }
        Span<byte> text = stackalloc byte[64];
        value.TryFormat(text, out var written, "R", CultureInfo.InvariantCulture);
        if (text[..written].IndexOfAny((byte)'E', (byte)'e') >= 0)
            value.TryFormat(text, out written, "0.############################", CultureInfo.InvariantCulture);
        if (written <= 32)
        {
            text[..written].CopyTo(_text[column]);
            _bits[column] = bits;
            _length[column] = written;
        }
        text[..written].CopyTo(destination);
        return written;
    }
}
