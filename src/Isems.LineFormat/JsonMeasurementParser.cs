using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Isems.LineFormat;

/// <summary>
/// The JSON variant (SPEC §2): one object per message with the API's camelCase keys, <c>status</c> as bare hex text
/// (<c>"902"</c>) and <c>isPowerSaveMode</c> as a number. Each value is laid out as the field of a line and the line
/// goes through <see cref="LineParser"/>, so a JSON measurement is validated exactly as a line is, with the same
/// rejection reasons; a missing key is a wrong field count, like a short line.
/// </summary>
public static class JsonMeasurementParser
{
    private static readonly string[] Keys =
    [
        "nodeId", "isemsRevision", "timestamp", "openMPPTFirmwareVersion", "timeToShutdown", "isPowerSaveMode",
        "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate", "batteryHealthEstimate",
        "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage", "rateBatteryCapacity",
        "ratedSolarModuleCapacity", "latitude", "longitude", "status",
    ];

    private const int StatusField = 18;

    /// <summary>
    /// Parses one JSON object; null when the payload is not one (malformed, or another JSON value), which the caller
    /// counts as a bad payload rather than a bad line.
    /// </summary>
    public static ParsedPayload? Parse(ReadOnlySpan<byte> json, long nowUnixSeconds)
    {
        var fields = new string?[Keys.Length];
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = Array.IndexOf(Keys, reader.GetString());
                if (!reader.Read()) return null;
                if (index < 0 || reader.TokenType is JsonTokenType.Null)
                {
                    reader.Skip();
                    continue;
                }
                fields[index] = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString(),
                    JsonTokenType.Number => Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
                    JsonTokenType.True => "1",
                    JsonTokenType.False => "0",
                    // An object or array where a value belongs: kept as text that no field accepts.
                    _ => Skipped(ref reader),
                };
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return null;
        }
        catch (JsonException)
        {
            return null;
        }

        var missing = Array.FindIndex(fields, 0, StatusField, f => f is null);
        if (missing >= 0)
        {
            var rejection = new LineRejection(RejectReason.FieldCount, $"key '{Keys[missing]}' is missing");
            return new ParsedPayload([], RejectionCounts.None.Add(rejection.Reason), rejection);
        }
        // A separator inside a value would shift every field after it: such a value is no valid field anyway.
        var separator = Array.FindIndex(fields, f => f is not null && f.AsSpan().IndexOfAny(";\n\r") >= 0);
        if (separator >= 0)
        {
            var reason = separator == 0 ? RejectReason.NodeId : separator == StatusField ? RejectReason.Status : RejectReason.Number;
            var rejection = new LineRejection(reason, $"key '{Keys[separator]}' holds a ';' or a line break");
            return new ParsedPayload([], RejectionCounts.None.Add(reason), rejection);
        }

        var line = string.Join(';', fields[StatusField] is null ? fields[..StatusField] : fields);
        return LineParser.TryParse(line, nowUnixSeconds, out var measurement, out var lineRejection)
            ? new ParsedPayload([measurement!], RejectionCounts.None, null)
            : new ParsedPayload([], RejectionCounts.None.Add(lineRejection.Reason), lineRejection);
    }

    private static string Skipped(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return "(not a value)";
    }
}
