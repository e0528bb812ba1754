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
        var written = ShortDecimal(value, _text[column]);
        if (written == 0) Utf8Formatter.TryFormat(value, _text[column], out written);
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
        var written = ShortDecimal(value, text);
        if (written == 0)
        {
            value.TryFormat(text, out written, "R", CultureInfo.InvariantCulture);
            if (text[..written].IndexOfAny((byte)'E', (byte)'e') >= 0)
                value.TryFormat(text, out written, "0.############################", CultureInfo.InvariantCulture);
        }
        if (written <= 32)
        {
            text[..written].CopyTo(_text[column]);
            _bits[column] = bits;
            _length[column] = written;
        }
        text[..written].CopyTo(destination);
        return written;
    }

    /// <summary>
    /// The shortest text that reads back as <paramref name="value"/>, for a number of at most 6 decimal places whose
    /// magnitude is 0.0001 or more and under 10⁹ (readings: voltages to the millivolt, percentages, positions); 0 when
    /// the value is not such a number (the caller formats it in full). Then the text is exactly .NET's (no exponent in
    /// that range), found with integers instead of .NET's general shortest-digits search, which cost most of the JSON
    /// and CSV writing. Why it is exact: the 6-place decimal nearest the value reads back as it (checked by one
    /// correctly rounded division of two exact numbers), no other 6-place decimal does (the value's ulp is below
    /// 10⁻⁶ under 2³³), and any shorter decimal that read back would be that one with trailing zeros, which are cut.
    /// </summary>
    internal static int ShortDecimal(double value, Span<byte> destination)
    {
        var magnitude = Math.Abs(value);
        if (!(magnitude < 1e9)) return 0; // NaN too
        if (magnitude < 1e-4)
        {
            if (BitConverter.DoubleToUInt64Bits(value) != 0) return 0; // -0 and the small ones: as .NET writes them
            destination[0] = (byte)'0';
            return 1;
        }
        var scaled = Math.Round(magnitude * 1e6);
        if (scaled / 1e6 != magnitude) return 0;
        var m = (long)scaled;
        var places = 6;
        while (places > 0 && m % 10 == 0)
        {
            m /= 10;
            places--;
        }
        Span<byte> text = stackalloc byte[24];
        var i = text.Length;
        var digits = 0;
        do
        {
            text[--i] = (byte)('0' + (int)(m % 10));
            m /= 10;
            if (++digits == places) text[--i] = (byte)'.';
        } while (m > 0 || digits <= places);
        if (value < 0) text[--i] = (byte)'-';
        text[i..].CopyTo(destination);
        return text.Length - i;
    }
}
