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

    /// <summary>The body of <see cref="PointsBody"/> in one array (tests and the benchmark compare its bytes).</summary>
    public static byte[] Points(string nodeId, HistoryRange range, string bucket, AggregatedHistory history, IReadOnlySet<string>? keep) =>
        PointsBody(nodeId, range, bucket, history, keep).ToArray();

    /// <summary>
    /// Each point is written as bytes (its numbers by <see cref="Utf8Text"/>, as <see cref="Utf8JsonWriter"/> writes
    /// them) straight into the body's chunks (<see cref="ChunkedBody"/>), which the answer keeps as they are: a year at
    /// 1 h is 8,760 points and 236,520 numbers, and the writer's per-property work cost as much as reading them. From
    /// <see cref="MeasurementStore.ParallelBuckets"/> points the later half is written at the same time into chunks of
    /// its own (the same bytes: what <see cref="Utf8Text"/> keeps between numbers only saves work).
    /// </summary>
    public static Representation PointsBody(string nodeId, HistoryRange range, string bucket, AggregatedHistory history, IReadOnlySet<string>? keep)
    {
        var buckets = history.Buckets;
        var keys = Rollups.KeyCount;
        var keepKey = new bool[keys];
        for (var k = 0; k < keys; k++) keepKey[k] = keep is null || keep.Contains(Rollups.Keys[k]);
        var keepCount = keep is null || keep.Contains("count");
        var keepStatus = keep is null || keep.Contains("status");
        var body = new ChunkedBody();
        using (var writer = new Utf8JsonWriter(body))
        {
            Head(writer, nodeId, range, bucket);
            if (history.RawDeletedBefore is { } before)
                writer.WriteString("rawDeletedBefore", HistoryParameters.Iso(before));
            writer.WriteStartArray("points");
            writer.Flush();
        }
        // The points go straight into the chunks after what the writer wrote, comma-separated, and the writer is not
        // used again: the array and the object are closed by the last piece.
        var fields = new Fields(keepKey, keepCount, keepStatus);
        if (buckets.Count < MeasurementStore.ParallelBuckets)
        {
            WritePoints(body, buckets, 0, buckets.Count, fields);
            var pieces = body.Finish();
            pieces.Add(Close);
            return new Representation(pieces);
        }
        var half = buckets.Count / 2;
        var later = new ChunkedBody();
        MeasurementStore.InParallel(
            () => WritePoints(body, buckets, 0, half, fields),
            () => WritePoints(later, buckets, half, buckets.Count, fields));
        var all = body.Finish();
        all.AddRange(later.Finish());
        all.Add(Close);
        return new Representation(all);
    }

    private static readonly ReadOnlyMemory<byte> Close = "]}"u8.ToArray();

    private sealed record Fields(bool[] Keys, bool Count, bool Status);

    private static void WritePoints(ChunkedBody buffer, HistoryBuckets buckets, int from, int to, Fields fields)
    {
        var keys = Rollups.KeyCount;
        var text = new Utf8Text(3 * keys);
        for (var b = from; b < to; b++)
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
            if (fields.Count)
            {
                Put(",\"count\":"u8, point);
                Utf8Formatter.TryFormat(count, point[n..], out var written);
                n += written;
            }
            if (fields.Status)
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
                if (!fields.Keys[k]) continue;
                Put(KeyPrefixes[k], point);
                n += text.Json(3 * k, sum[k] / count, point[n..], average: true);
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

    private static void Head(Utf8JsonWriter writer, string nodeId, HistoryRange range, string bucket)
    {
        writer.WriteStartObject();
        writer.WriteString("nodeId", nodeId);
        writer.WriteString("from", HistoryParameters.Iso(range.From));
        writer.WriteString("to", HistoryParameters.Iso(range.To));
        writer.WriteString("bucket", bucket);
    }
}
