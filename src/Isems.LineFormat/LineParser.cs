using System.Buffers.Text;
using System.Text;
using System.Text.Unicode;

namespace Isems.LineFormat;

/// <summary>What came out of one payload (a fetched log or an MQTT message): the good lines and what was rejected.</summary>
public sealed record ParsedPayload(IReadOnlyList<Measurement> Lines, RejectionCounts Rejections, LineRejection? FirstRejection)
{
    public static readonly ParsedPayload Empty = new([], RejectionCounts.None, null);
}

/// <summary>
/// Parses and validates measurement lines (SPEC §1) straight from UTF-8 bytes: fields are sliced as spans and
/// numbers parsed in place, so a line costs one <see cref="Measurement"/> and nothing per field. The text fields
/// repeat from line to line (a log holds one node), so the strings of the previous line are reused when equal.
/// </summary>
public static class LineParser
{
    /// <summary>2001-01-01T00:00:00Z: older timestamps are placeholders or clocks before NTP sync.</summary>
    public const long MinimumTimestamp = 978_307_200;

    /// <summary>How far ahead of the collector's clock a node's clock may run.</summary>
    public const long MaximumClockLeadSeconds = 86_400;

    public const int MaximumNodeIdLength = 64;

    private static readonly string[] FieldNames =
    [
        "nodeId", "isemsRevision", "timestamp", "openMPPTFirmwareVersion", "timeToShutdown", "isPowerSaveMode",
        "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate", "batteryHealthEstimate",
        "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage", "rateBatteryCapacity",
        "ratedSolarModuleCapacity", "latitude", "longitude", "status",
    ];

    /// <summary>Parses every line of a payload; empty lines (a trailing newline) are skipped, not counted.</summary>
    public static ParsedPayload ParsePayload(ReadOnlySpan<byte> payload, long nowUnixSeconds)
    {
        var lines = new List<Measurement>(payload.Count((byte)'\n') + 1);
        var tally = new RejectionTally();
        LineRejection? first = null;
        var cache = new TextCache();
        while (!payload.IsEmpty)
        {
            var end = payload.IndexOf((byte)'\n');
            var line = end < 0 ? payload : payload[..end];
            payload = end < 0 ? default : payload[(end + 1)..];
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (line.IsEmpty) continue;

            if (TryParse(line, nowUnixSeconds, ref cache, out var measurement, out var rejection))
                lines.Add(measurement!);
            else
            {
                tally.Add(rejection.Reason);
                first ??= rejection;
            }
        }
        return lines.Count == 0 && first is null ? ParsedPayload.Empty : new ParsedPayload(lines, tally.ToCounts(), first);
    }

    public static ParsedPayload ParsePayload(string payload, long nowUnixSeconds) =>
        ParsePayload(Encoding.UTF8.GetBytes(payload), nowUnixSeconds);

    /// <summary>Parses one line, without its line ending.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, long nowUnixSeconds, out Measurement? measurement, out LineRejection rejection)
    {
        var cache = new TextCache();
        return TryParse(line, nowUnixSeconds, ref cache, out measurement, out rejection);
    }

    public static bool TryParse(string line, long nowUnixSeconds, out Measurement? measurement, out LineRejection rejection) =>
        TryParse(Encoding.UTF8.GetBytes(line.TrimEnd('\r', '\n')), nowUnixSeconds, out measurement, out rejection);

    private static bool TryParse(ReadOnlySpan<byte> line, long now, ref TextCache cache, out Measurement? measurement, out LineRejection rejection)
    {
        measurement = null;
        Span<Range> fields = stackalloc Range[20];
        var count = Split(line, fields);
        if (count is not (18 or 19))
        {
            rejection = new(RejectReason.FieldCount, $"{(count > 19 ? "more than 19" : count)} fields, expected 18 or 19");
            return false;
        }

        var nodeId = cache.NodeId(line[fields[0]]);
        if (nodeId is null)
        {
            rejection = new(RejectReason.NodeId, "node id is empty, longer than 64 characters, not UTF-8, or holds a control character or '/'");
            return false;
        }

        if (!TryParseInteger(Trim(line[fields[2]]), out var timestamp))
            return Fail(RejectReason.Number, 2, line[fields[2]], out rejection);
        if (timestamp < MinimumTimestamp)
        {
            rejection = new(RejectReason.TimestampTooOld, $"timestamp {timestamp} of node {nodeId} is before 2001-01-01");
            return false;
        }
        if (timestamp > now + MaximumClockLeadSeconds)
        {
            rejection = new(RejectReason.TimestampInFuture, $"timestamp {timestamp} of node {nodeId} is more than a day ahead of the collector's clock");
            return false;
        }

        Span<double> numbers = stackalloc double[19];
        for (var i = 4; i < 18; i++)
        {
            if (i == 5) continue;
            if (!TryParseNumber(Trim(line[fields[i]]), out numbers[i]))
                return Fail(RejectReason.Number, i, line[fields[i]], out rejection);
        }
        if (!TryParseInteger(Trim(line[fields[5]]), out var powerSave) || powerSave is < 0 or > int.MaxValue)
            return Fail(RejectReason.Number, 5, line[fields[5]], out rejection);

        int? status = null;
        if (count == 19)
        {
            var text = Trim(line[fields[18]]);
            if (!text.IsEmpty)
            {
                if (!TryParseStatus(text, out var bits))
                {
                    rejection = new(RejectReason.Status, $"status '{Show(text)}' of node {nodeId} is not hex digits");
                    return false;
                }
                status = bits;
            }
        }

        measurement = new Measurement(
            nodeId,
            cache.Revision(line[fields[1]]),
            timestamp,
            cache.Firmware(line[fields[3]]),
            numbers[4], (int)powerSave, numbers[6], numbers[7], numbers[8], numbers[9], numbers[10], numbers[11],
            numbers[12], numbers[13], numbers[14], numbers[15], numbers[16], numbers[17],
            status);
        rejection = default;
        return true;
    }

    /// <summary>Slices the fields; a count above 19 stops early, since the line is rejected anyway.</summary>
    private static int Split(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        var count = 0;
        var start = 0;
        while (true)
        {
            var next = line[start..].IndexOf((byte)';');
            if (count == fields.Length - 1 || next < 0)
            {
                fields[count++] = start..line.Length;
                return next < 0 ? count : count + 1;
            }
            fields[count++] = start..(start + next);
            start += next + 1;
        }
    }

    private static bool Fail(RejectReason reason, int field, ReadOnlySpan<byte> text, out LineRejection rejection)
    {
        rejection = new(reason, $"field {field + 1} ({FieldNames[field]}) is not a number: '{Show(text)}'");
        return false;
    }

    private static string Show(ReadOnlySpan<byte> text) =>
        Encoding.UTF8.GetString(text.Length > 40 ? text[..40] : text);

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s) => s.Trim((byte)' ');

    private static bool TryParseInteger(ReadOnlySpan<byte> s, out long value) =>
        Utf8Parser.TryParse(s, out value, out var consumed) && consumed == s.Length && s.Length > 0;

    private static bool TryParseStatus(ReadOnlySpan<byte> s, out int value)
    {
        if (s.Length > 2 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x') s = s[2..];
        value = 0;
        if (s.IsEmpty || s.Length > 7) return false;
        foreach (var b in s)
        {
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0) return false;
            value = value * 16 + digit;
        }
        return true;
    }

    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];

    /// <summary>
    /// Plain decimals (<c>-12.345</c>) with at most 15 significant digits are exact as mantissa / 10^k, one correctly
    /// rounded division, the same value double.Parse gives; anything else (exponents, long digit strings) goes to the
    /// general parser.
    /// </summary>
    internal static bool TryParseNumber(ReadOnlySpan<byte> s, out double value)
    {
        var i = 0;
        var negative = false;
        if (s.Length > 0 && (s[0] == (byte)'-' || s[0] == (byte)'+'))
        {
            negative = s[0] == (byte)'-';
            i = 1;
        }
        long mantissa = 0;
        var digits = 0;
        var fraction = -1;
        for (; i < s.Length; i++)
        {
            var b = s[i];
            if ((uint)(b - '0') <= 9)
            {
                mantissa = mantissa * 10 + (b - '0');
                digits++;
                if (fraction >= 0) fraction++;
            }
            else if (b == (byte)'.' && fraction < 0) fraction = 0;
            else break;
        }
        if (i == s.Length && digits is > 0 and <= 15)
        {
            value = fraction > 0 ? mantissa / PowersOfTen[fraction] : mantissa;
            if (negative) value = -value;
            return true;
        }
        return Utf8Parser.TryParse(s, out value, out var consumed, 'G') && consumed == s.Length && s.Length > 0 && double.IsFinite(value);
    }

    /// <summary>The text fields of the line before, reused while the bytes are the same.</summary>
    private struct TextCache
    {
        private byte[]? _nodeIdBytes, _revisionBytes, _firmwareBytes;
        private string? _nodeId, _revision, _firmware;

        public string? NodeId(ReadOnlySpan<byte> bytes)
        {
            if (_nodeIdBytes is not null && bytes.SequenceEqual(_nodeIdBytes)) return _nodeId;
            var id = ValidNodeId(bytes);
            if (id is not null)
            {
                _nodeIdBytes = bytes.ToArray();
                _nodeId = id;
            }
            return id;
        }

        public string Revision(ReadOnlySpan<byte> bytes) => Reuse(bytes, ref _revisionBytes, ref _revision);

        public string Firmware(ReadOnlySpan<byte> bytes) => Reuse(bytes, ref _firmwareBytes, ref _firmware);

        private static string Reuse(ReadOnlySpan<byte> bytes, ref byte[]? cachedBytes, ref string? cached)
        {
            if (cachedBytes is not null && bytes.SequenceEqual(cachedBytes)) return cached!;
            cachedBytes = bytes.ToArray();
            return cached = Encoding.UTF8.GetString(bytes);
        }
    }

    private static string? ValidNodeId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty || bytes.Length > MaximumNodeIdLength * 4 || !Utf8.IsValid(bytes)) return null;
        var id = Encoding.UTF8.GetString(bytes);
        return IsValidNodeId(id) ? id : null;
    }

    /// <summary>SPEC §1's rule for node ids, also used for ids given through the admin API and topics.</summary>
    public static bool IsValidNodeId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaximumNodeIdLength && !id.Any(c => char.IsControl(c) || c == '/');
}
