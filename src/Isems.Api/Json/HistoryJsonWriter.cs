using System.Buffers;
using System.Buffers.Text;
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
    /// <summary><c>,"key":{"avg":</c> of each key (the keys need no escaping).</summary>
    private static readonly byte[][] KeyPrefixes = Rollups.Keys.Select(k => System.Text.Encoding.UTF8.GetBytes($",\"{k}\":{{\"avg\":")).ToArray();

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

    /// <summary>
    /// Each point is written as bytes (its numbers by <see cref="Utf8Text"/>, as <see cref="Utf8JsonWriter"/> writes
    /// them) and handed to the writer as one raw value: a year at 1 h is 8,760 points and 236,520 numbers, and the
    /// writer's per-property work cost as much as reading them.
    /// </summary>
    public static byte[] Points(string nodeId, HistoryRange range, string bucket, AggregatedHistory history, IReadOnlySet<string>? keep)
    {
        var buckets = history.Buckets;
        var keys = Rollups.KeyCount;
        var keepKey = new bool[keys];
        for (var k = 0; k < keys; k++) keepKey[k] = keep is null || keep.Contains(Rollups.Keys[k]);
        var keepCount = keep is null || keep.Contains("count");
        var keepStatus = keep is null || keep.Contains("status");
        using var buffer = new PooledBufferWriter(1024 + buckets.Count * (64 + 100 * keepKey.Count(x => x)));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Head(writer, nodeId, range, bucket);
            if (history.RawDeletedBefore is { } before)
                writer.WriteString("rawDeletedBefore", HistoryParameters.Iso(before));
            writer.WriteStartArray("points");
            writer.Flush();
            // The points go straight into the buffer after what the writer wrote, comma-separated, and the writer is
            // not used again: the array and the object are closed by hand below.
            var text = new Utf8Text(3 * keys);
            for (var b = 0; b < buckets.Count; b++)
            {
                var point = buffer.GetSpan(4096);
                var n = 0;
                void Put(ReadOnlySpan<byte> bytes, Span<byte> point)
                {
                    bytes.CopyTo(point[n..]);
                    n += bytes.Length;
                }
                Put(b == 0 ? "{\"time\":\""u8 : ",{\"time\":\""u8, point);
                n += text.Time(buckets.Start(b), point[n..]);
                Put("\""u8, point);
                var count = buckets.RowCount(b);
                if (keepCount)
                {
                    Put(",\"count\":"u8, point);
                    Utf8Formatter.TryFormat(count, point[n..], out var written);
                    n += written;
                }
                if (keepStatus)
                {
                    Put(",\"status\":\"0x"u8, point);
                    n += Utf8Text.Hex3(buckets.Status(b), point[n..]);
                    Put("\""u8, point);
                }
                var sum = buckets.Sum(b);
                var min = buckets.Min(b);
                var max = buckets.Max(b);
                for (var k = 0; k < keys; k++)
                {
                    if (!keepKey[k]) continue;
                    Put(KeyPrefixes[k], point);
                    n += text.Json(3 * k, sum[k] / count, point[n..]);
                    Put(",\"min\":"u8, point);
                    n += text.Json(3 * k + 1, min[k], point[n..]);
                    Put(",\"max\":"u8, point);
                    n += text.Json(3 * k + 2, max[k], point[n..]);
                    Put("}"u8, point);
                }
                Put("}"u8, point);
                buffer.Advance(n);
            }
        }
        "]}"u8.CopyTo(buffer.GetSpan(2));
        buffer.Advance(2);
        var body = GC.AllocateUninitializedArray<byte>(buffer.WrittenSpan.Length);
        buffer.WrittenSpan.CopyTo(body);
        return body;
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
