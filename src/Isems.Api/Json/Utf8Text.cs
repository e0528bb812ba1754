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
    /// remembered per <paramref name="column"/>. <paramref name="destination"/> has room for 64 bytes. An
    /// <paramref name="average"/> (a sum over a count) rarely has few decimals, so <see cref="Shortest"/> is tried first.
    /// </summary>
    public int Json(int column, double value, Span<byte> destination, bool average = false)
    {
        var bits = BitConverter.DoubleToUInt64Bits(value);
        if (_length[column] > 0 && _bits[column] == bits) return Kept(column, destination);
        if (!double.IsFinite(value))
            throw new ArgumentException($"{value} is not a valid JSON number.", nameof(value));
        var written = average ? 0 : ShortDecimal(value, destination);
        if (written == 0) written = Shortest(value, destination);
        if (written == 0 && average) written = ShortDecimal(value, destination);
        if (written == 0) Utf8Formatter.TryFormat(value, destination, out written);
        Keep(column, bits, destination[..written]);
        return written;
    }

    /// <summary>
    /// A double as the export writes it: the shortest text that reads back the same (<c>R</c>), without an exponent
    /// (the line parser takes none), remembered per <paramref name="column"/>. <paramref name="destination"/> has room
    /// for 64 bytes.
    /// </summary>
    public int Plain(int column, double value, Span<byte> destination)
    {
        var bits = BitConverter.DoubleToUInt64Bits(value);
        if (_length[column] > 0 && _bits[column] == bits) return Kept(column, destination);
        var written = ShortDecimal(value, destination);
        if (written == 0) written = Shortest(value, destination);
        if (written == 0)
        {
            value.TryFormat(destination, out written, "R", CultureInfo.InvariantCulture);
            if (destination[..written].IndexOfAny((byte)'E', (byte)'e') >= 0)
                value.TryFormat(destination, out written, "0.############################", CultureInfo.InvariantCulture);
        }
        Keep(column, bits, destination[..written]);
        return written;
    }

    /// <summary>The column's kept text: its 32 bytes copied whole (the destination has room), its length counted.</summary>
    private int Kept(int column, Span<byte> destination)
    {
        _text[column].AsSpan(0, 32).CopyTo(destination);
        return _length[column];
    }

    private void Keep(int column, ulong bits, ReadOnlySpan<byte> text)
    {
        if (text.Length > 32) return;
        text.CopyTo(_text[column]);
        _bits[column] = bits;
        _length[column] = text.Length;
    }

    private static readonly long[] PowersOfTen =
        [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
         100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000];

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
        var digits = 1;
        while (digits < PowersOfTen.Length && m >= PowersOfTen[digits]) digits++;
        digits = Math.Max(digits, places + 1); // at least one digit before the point
        var length = (value < 0 ? 1 : 0) + digits + (places > 0 ? 1 : 0);
        var i = length;
        for (var d = 0; d < digits; d++)
        {
            if (d == places && places > 0) destination[--i] = (byte)'.';
            destination[--i] = (byte)('0' + (int)(m % 10));
            m /= 10;
        }
        if (value < 0) destination[0] = (byte)'-';
        return length;
    }

    /// <summary>10⁰ … 10²¹, for <see cref="Shortest"/>.</summary>
    private static readonly UInt128[] WidePowersOfTen =
        Enumerable.Range(0, 22).Select(k => UInt128.Parse("1" + new string('0', k), CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// The shortest text that reads back as <paramref name="value"/>, and of those the nearest to it, for a magnitude
    /// from 0.001 up to 10⁹ (where .NET writes no exponent); 0 for any other value, or when two texts are equally
    /// near (the caller then formats it in full). An average (a sum over a count) rarely has few decimals, and .NET's
    /// general shortest-digits search for its 15–17 digits cost most of a year of points' JSON. Why it is exact: the
    /// value is m·2^e with e between −62 and −23, so every number involved is an integer over a power of two that
    /// fits in 128 bits. The decimals that read back as the value are the integers n/10^K in an interval (half a
    /// unit in the last place on each side, a quarter below a power of two, the ends included when m is even, as the
    /// parser rounds halfway cases to even), with K chosen so that n has 18 or 19 digits; the shortest is the one with
    /// the most trailing zeros, and of those .NET writes the nearest.
    /// </summary>
    internal static int Shortest(double value, Span<byte> destination)
    {
        var magnitude = Math.Abs(value);
        if (!(magnitude >= 1e-3 && magnitude < 1e9)) return 0; // NaN too
        var bits = BitConverter.DoubleToUInt64Bits(magnitude);
        var biased = (int)(bits >> 52);
        var fraction = bits & ((1UL << 52) - 1);
        var m = fraction | (1UL << 52);
        var shift = 1075 - biased + 2; // value = m·2^-(shift-2); everything below is in units of 2^-shift (≤ 64)
        // The value lies in [2^E, 2^(E+1)), so below 10^t and at least 10^(t-2); n then has 18 or 19 digits (< 2^64).
        var exponent = biased - 1023;
        var t = ((exponent + 1) * 78_913 >> 18) + 1;
        var places = 19 - t; // 9 … 21
        var scale = WidePowersOfTen[places];
        var center = (UInt128)(m << 2) * scale;
        var above = scale << 1;
        var below = fraction == 0 && biased > 1 ? scale : above; // the gap below a power of two is half as wide
        var mask = (UInt128.One << shift) - 1;
        var inclusive = (m & 1) == 0;
        var low = center - below;
        var high = center + above;
        var lo = (ulong)(low >> shift) + ((low & mask) != 0 || !inclusive ? 1UL : 0UL);
        var hi = (ulong)(high >> shift) - ((high & mask) == 0 && !inclusive ? 1UL : 0UL);

        // Cut trailing digits while a multiple of the next power of ten lies in [lo, hi] (vm = lo - 1 excluded), as
        // Ryu does, by constants only; the digits cut say which way the value rounds. n has at least 18 digits and
        // the interval is at least 16 units wide, so at least one digit is cut.
        ulong vp = hi, vm = lo - 1, vr = (ulong)(center >> shift);
        var cut = 0;
        uint lastCut = 0;
        var restZero = (center & mask) == 0; // all below the last digit cut is zero (so a 5 there is exactly half)
        while (vp / 10 > vm / 10)
        {
            restZero &= lastCut == 0;
            var vr10 = vr / 10;
            lastCut = (uint)(vr - vr10 * 10);
            vr = vr10;
            vp /= 10;
            vm /= 10;
            cut++;
        }
        if (cut == 0 || (lastCut == 5 && restZero)) return 0; // exactly halfway: as .NET breaks the tie
        var n = lastCut >= 5 ? vr + 1 : vr; // the nearest; then the nearest inside (vm, vp]
        if (n > vp) n = vp;
        else if (n <= vm) n = vm + 1;

        // n·10^-(places - cut), written from its last digit: decimals, the point, the integer part (at least "0").
        var last = places - cut;
        Span<byte> text = stackalloc byte[32];
        var at = text.Length;
        for (var z = last; z < 0; z++) text[--at] = (byte)'0'; // an integer with trailing zeros
        var decimals = Math.Max(last, 0);
        var written = 0;
        while (n >= 100 || written < decimals - 1)
        {
            var q = n / 100;
            var pair = (int)(n - q * 100) * 2;
            text[--at] = DigitPairs[pair + 1];
            if (++written == decimals) text[--at] = (byte)'.';
            text[--at] = DigitPairs[pair];
            if (++written == decimals) text[--at] = (byte)'.';
            n = q;
        }
        do
        {
            var q = n / 10;
            text[--at] = (byte)('0' + (int)(n - q * 10));
            if (++written == decimals) text[--at] = (byte)'.';
            n = q;
        } while (n != 0);
        if (written == decimals) text[--at] = (byte)'0'; // 0.xxx
        if (value < 0) text[--at] = (byte)'-';
        text[at..].CopyTo(destination);
        return text.Length - at;
    }

    private static ReadOnlySpan<byte> DigitPairs =>
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    /// <summary>A status as <c>x3</c> writes it (lowercase hex, at least 3 digits), without the general formatter.</summary>
    public static int Hex3(int value, Span<byte> destination)
    {
        var v = (uint)value;
        var digits = 3;
        while (digits < 8 && v >> (4 * digits) != 0) digits++;
        for (var i = digits - 1; i >= 0; i--)
        {
            destination[i] = HexDigits[(int)(v & 0xF)];
            v >>= 4;
        }
        return digits;
    }
}
