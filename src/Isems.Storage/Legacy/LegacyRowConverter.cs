using System.Globalization;
using Isems.LineFormat;

namespace Isems.Storage.Legacy;

/// <summary>Why a row of the original was not imported: the line format's reasons, and one of its own.</summary>
public static class LegacyRejectReasons
{
    /// <summary>The timestamp is empty or not wall-clock text the original wrote.</summary>
    public const string TimestampUnreadable = "timestamp_unreadable";
}

/// <summary>A row turned into a measurement, with where its wall clock fell around the daylight-saving changes.</summary>
public readonly record struct LegacyConversion(Measurement? Measurement, string? RejectReason, string? Message, WallClockKind Kind, bool SecondPass);

/// <summary>
/// Validates a row as the line format validates a line (node id rules, timestamp range, numbers) and converts it: the
/// Berlin wall clock becomes a UTC instant, <c>isPowerSaveMode</c> a power-save level of 0 or 1. An empty text field is
/// kept as empty text and an empty number field rejects the row, as in a line. Feed rows in id order (see
/// <see cref="RepeatedHourResolver"/>).
/// </summary>
public sealed class LegacyRowConverter(long nowUnixSeconds)
{
    private readonly RepeatedHourResolver _repeatedHour = new();
    private readonly double[] _numbers = new double[LegacyDatabase.ColumnNames.Count];
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal); // a million rows share a few strings

    public LegacyConversion Convert(LegacyRow row)
    {
        var nodeId = Text(row[LegacyColumn.NodeId]);
        if (!LineParser.IsValidNodeId(nodeId))
            return Reject(RejectReason.NodeId.Label(), $"row {row.Id}: node id '{Show(nodeId)}' is empty, longer than {LineParser.MaximumNodeIdLength} characters, or holds a control character or '/'");

        var timestampText = row[LegacyColumn.Timestamp] as string;
        if (!BerlinTime.TryParseWallClock(timestampText, out var wallClock))
            return Reject(LegacyRejectReasons.TimestampUnreadable, $"row {row.Id} of node {nodeId}: timestamp '{Show(System.Convert.ToString(row[LegacyColumn.Timestamp], CultureInfo.InvariantCulture))}' is not 'yyyy-MM-dd HH:mm:ss[.ffffff]'");
        var kind = BerlinTime.Classify(wallClock);
        var secondPass = kind == WallClockKind.Repeated && _repeatedHour.IsSecondPass(nodeId, wallClock);
        var timestamp = BerlinTime.ToInstant(wallClock, secondPass).ToUnixTimeSeconds();
        if (timestamp < LineParser.MinimumTimestamp)
            return Reject(RejectReason.TimestampTooOld.Label(), $"row {row.Id} of node {nodeId}: {timestampText} is before 2001-01-01");
        if (timestamp > nowUnixSeconds + LineParser.MaximumClockLeadSeconds)
            return Reject(RejectReason.TimestampInFuture.Label(), $"row {row.Id} of node {nodeId}: {timestampText} is more than a day ahead of this machine's clock");

        var numbers = _numbers;
        foreach (var column in NumberColumns)
            if (!TryNumber(row[column], out numbers[(int)column]))
                return Reject(RejectReason.Number.Label(), $"row {row.Id} of node {nodeId}: {LegacyDatabase.ColumnNames[(int)column]} '{Show(System.Convert.ToString(row[column], CultureInfo.InvariantCulture))}' is not a number");
        if (!TryPowerSave(row[LegacyColumn.IsPowerSaveMode], out var powerSave))
            return Reject(RejectReason.Number.Label(), $"row {row.Id} of node {nodeId}: isPowerSaveMode '{Show(System.Convert.ToString(row[LegacyColumn.IsPowerSaveMode], CultureInfo.InvariantCulture))}' is not 0 or 1");
        if (!TryStatus(row[LegacyColumn.Status], out var status))
            return Reject(RejectReason.Status.Label(), $"row {row.Id} of node {nodeId}: status '{Show(System.Convert.ToString(row[LegacyColumn.Status], CultureInfo.InvariantCulture))}' is not a bit field");

        var measurement = new Measurement(
            nodeId, Text(row[LegacyColumn.IsemsRevision]), timestamp, Text(row[LegacyColumn.OpenMpptFirmwareVersion]),
            N(LegacyColumn.TimeToShutdown), powerSave, N(LegacyColumn.OpenCircuitVoltage), N(LegacyColumn.MppVoltage),
            N(LegacyColumn.BatteryVoltage), N(LegacyColumn.BatteryChargeEstimate), N(LegacyColumn.BatteryHealthEstimate),
            N(LegacyColumn.BatteryTemperature), N(LegacyColumn.LowVoltageDisconnectVoltage),
            N(LegacyColumn.TemperatureCorrectedVoltage), N(LegacyColumn.RateBatteryCapacity),
            N(LegacyColumn.RatedSolarModuleCapacity), N(LegacyColumn.Latitude), N(LegacyColumn.Longitude), status);
        return new LegacyConversion(measurement, null, null, kind, secondPass);

        double N(LegacyColumn column) => numbers[(int)column];
    }

    private static readonly LegacyColumn[] NumberColumns =
    [
        LegacyColumn.TimeToShutdown, LegacyColumn.OpenCircuitVoltage, LegacyColumn.MppVoltage, LegacyColumn.BatteryVoltage,
        LegacyColumn.BatteryChargeEstimate, LegacyColumn.BatteryHealthEstimate, LegacyColumn.BatteryTemperature,
        LegacyColumn.LowVoltageDisconnectVoltage, LegacyColumn.TemperatureCorrectedVoltage, LegacyColumn.RateBatteryCapacity,
        LegacyColumn.RatedSolarModuleCapacity, LegacyColumn.Latitude, LegacyColumn.Longitude,
    ];

    private static LegacyConversion Reject(string reason, string message) => new(null, reason, message, WallClockKind.Unique, false);

    private string Text(object? value)
    {
        var text = value switch
        {
            null => "",
            string s => s,
            byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        if (_texts.TryGetValue(text, out var shared)) return shared;
        if (_texts.Count < 10_000) _texts.Add(text, text);
        return text;
    }

    /// <summary>
    /// SQLite keeps a Float column's value as REAL when the text the original bound looked like a number (REAL affinity);
    /// text that did not stays text, and is parsed here as a line's field would be.
    /// </summary>
    private static bool TryNumber(object? value, out double number)
    {
        number = value switch
        {
            double d => d,
            long l => l,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => double.NaN,
        };
        return double.IsFinite(number);
    }

    /// <summary>SQLAlchemy stored the Boolean as 0 or 1; the original knew no levels, so true becomes level 1.</summary>
    private static bool TryPowerSave(object? value, out int level)
    {
        level = 0;
        switch (value)
        {
            case long l:
                level = l != 0 ? 1 : 0;
                return true;
            case double d when d is 0 or 1:
                level = (int)d;
                return true;
            case string s when s.Trim() is "0" or "1" || bool.TryParse(s.Trim(), out _):
                level = s.Trim() is "1" || (bool.TryParse(s.Trim(), out var b) && b) ? 1 : 0;
                return true;
            default:
                return false;
        }
    }

    /// <summary>The original stored the line's hex digits as an integer; text (another tool's file) is read as the line's hex.</summary>
    private static bool TryStatus(object? value, out int? status)
    {
        status = null;
        switch (value)
        {
            case null:
                return true;
            case long l when l is >= 0 and <= 0xFFF_FFFF:
                status = (int)l;
                return true;
            case string s:
                var text = s.Trim();
                if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) text = text[2..];
                if (text.Length is 0 or > 7 || !int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var bits))
                    return false;
                status = bits;
                return true;
            default:
                return false;
        }
    }

    private static string Show(string? text) => text is null ? "" : text.Length > 40 ? text[..40] : text;
}
