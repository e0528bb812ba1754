using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Isems.Api.Controllers;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Api.Json;

/// <summary>
/// The bodies of <c>/measurements/{nodeId}/history</c> (SPEC §6), written straight from the rows or buckets:
/// <c>{"nodeId","from","to","bucket","measurements":[…]}</c> (raw, oldest first, each object as in <c>/latest</c>) or
/// <c>{"nodeId","from","to","bucket","points":[{"time","count","status",key:{"avg","min","max"},…}]}</c>.
/// </summary>
public static class HistoryJsonWriter
{
    private static readonly JsonEncodedText[] KeyNames = Rollups.Keys.Select(k => JsonEncodedText.Encode(k)).ToArray();
    private static readonly JsonEncodedText Avg = JsonEncodedText.Encode("avg"), Min = JsonEncodedText.Encode("min"),
        Max = JsonEncodedText.Encode("max"), Time = JsonEncodedText.Encode("time"), Count = JsonEncodedText.Encode("count"),
        Status = JsonEncodedText.Encode("status");

    public static byte[] Raw(string nodeId, HistoryRange range, IEnumerable<StoredMeasurement> rows, IReadOnlySet<string>? keep)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Head(writer, nodeId, range, "raw");
            writer.WriteStartArray("measurements");
            foreach (var row in rows) MeasurementJsonWriter.Write(writer, row, keep);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Points(string nodeId, HistoryRange range, string bucket, AggregatedHistory history, IReadOnlySet<string>? keep)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Head(writer, nodeId, range, bucket);
            if (history.RawDeletedBefore is { } before)
                writer.WriteString("rawDeletedBefore", HistoryParameters.Iso(before));
            writer.WriteStartArray("points");
            Span<char> time = stackalloc char[20];
            foreach (var point in history.Points)
            {
                var a = point.Aggregate;
                writer.WriteStartObject();
                DateTimeOffset.FromUnixTimeSeconds(point.Start).UtcDateTime.TryFormat(time, out var written, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                writer.WriteString(Time, time[..written]);
                if (keep is null || keep.Contains("count")) writer.WriteNumber(Count, a.Count);
                if (keep is null || keep.Contains("status")) writer.WriteString(Status, StatusBitNames.ToApiText(a.Status));
                for (var k = 0; k < Rollups.KeyCount; k++)
                {
                    if (keep is not null && !keep.Contains(Rollups.Keys[k])) continue;
                    writer.WriteStartObject(KeyNames[k]);
                    writer.WriteNumber(Avg, a.Sum[k] / a.Count);
                    writer.WriteNumber(Min, a.Min[k]);
                    writer.WriteNumber(Max, a.Max[k]);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Head(Utf8JsonWriter writer, string nodeId, HistoryRange range, string bucket)
    {
        writer.WriteStartObject();
        writer.WriteString("nodeId", nodeId);
        writer.WriteString("from", HistoryParameters.Iso(range.From));
        writer.WriteString("to", HistoryParameters.Iso(range.To));
        writer.WriteString("bucket", bucket);
    }
}
