using System.Buffers;
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
            foreach (var point in history.Points)
            {
                var a = point.Aggregate;
                writer.WriteStartObject();
                writer.WriteString("time", HistoryParameters.Iso(point.Start));
                if (keep is null || keep.Contains("count")) writer.WriteNumber("count", a.Count);
                if (keep is null || keep.Contains("status")) writer.WriteString("status", StatusBitNames.ToApiText(a.Status));
                for (var k = 0; k < Rollups.KeyCount; k++)
                {
                    var key = Rollups.Keys[k];
                    if (keep is not null && !keep.Contains(key)) continue;
                    writer.WriteStartObject(key);
                    writer.WriteNumber("avg", a.Sum[k] / a.Count);
                    writer.WriteNumber("min", a.Min[k]);
                    writer.WriteNumber("max", a.Max[k]);
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
