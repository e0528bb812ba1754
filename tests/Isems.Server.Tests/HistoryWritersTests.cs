using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Isems.Api.Controllers;
using Isems.Api.Export;
using Isems.Api.Json;
using Isems.LineFormat;
using Isems.Storage;
using Isems.Testing;

namespace Isems.Server.Tests;

/// <summary>
/// The history JSON and the CSV export are written as bytes for speed; they must be exactly what the plain ways of
/// writing them give (System.Text.Json's writer for the points, DateTime's and double's own formats for the CSV), so
/// that a client sees the same bytes as before.
/// </summary>
public sealed class HistoryWritersTests : IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly MeasurementStore _store;
    private readonly List<Measurement> _rows;

    public HistoryWritersTests()
    {
        _store = new MeasurementStore(DatabaseTarget.Parse("sqlite:///" + _folder.File("writers.db"), _folder.Path));
        _store.Migrate();
        var random = new Random(11);
        double Odd() => random.Next(6) switch
        {
            0 => Math.Round(random.NextDouble() * 20, 3),
            1 => random.NextDouble() * 1e-7,
            2 => -random.NextDouble() * 1e15,
            3 => 12.5,
            4 => random.Next(100),
            _ => random.NextDouble(),
        };
        // Three days around the epoch (negative timestamps too) and one in 2026, every 7 minutes and a bit.
        _rows = [];
        foreach (var start in new[] { -86_400L - 3_000, 1_764_547_200L })
            for (var t = start; t < start + 3 * 86_400; t += 420 + random.Next(60))
                _rows.Add(new Measurement(random.Next(3) == 0 ? "node-b" : "node,\"a\"", random.Next(2) == 0 ? "1" : "rev \"2\", x", t,
                    random.Next(2) == 0 ? "ATmega8_A_1" : "ESP,2\r\n", Odd(), random.Next(4), Odd(), Odd(), Odd(), Odd(), Odd(), Odd(),
                    Odd(), Odd(), Odd(), Odd(), Odd(), Odd(), random.Next(3) == 0 ? null : random.Next(0x1000)));
        // And a node with 3,000 rows ten minutes apart: from 2,048 points the writer writes two halves at once.
        for (var i = 0; i < 3_000; i++)
            _rows.Add(new Measurement("node-long", "1", 1_700_000_000 + 600L * i, "ATmega8_A_1", Odd(), 1, Odd(), Odd(), Odd(), Odd(),
                Odd(), Odd(), Odd(), Odd(), Odd(), Odd(), Odd(), Odd(), random.Next(0x1000)));
        _store.WriteAsync([_rows]).GetAwaiter().GetResult();
    }

    [Fact]
    public async Task History_points_are_byte_for_byte_what_System_Text_Json_writes()
    {
        foreach (var (from, to) in new[] { (-86_400L - 3_000, 3 * 86_400L), (1_764_547_200L + 1_000, 1_764_547_200L + 3 * 86_400) })
            foreach (var bucket in new[] { 300L, 3_600, 7_200, 86_400 })
                foreach (var keep in new IReadOnlySet<string>?[] { null, new HashSet<string> { "batteryVoltage", "status" } })
                {
                    var history = await _store.AggregateAsync("node,\"a\"", from, to, bucket);
                    Assert.NotEmpty(history.Points);
                    var range = new HistoryRange(from, to);
                    Assert.Equal(Reference(range, history, keep), Encoding.UTF8.GetString(HistoryJsonWriter.Points("node,\"a\"", range, "x", history, keep)));
                }
    }

    [Fact]
    public async Task A_long_history_written_in_two_halves_is_byte_for_byte_what_System_Text_Json_writes()
    {
        var (from, to) = (1_700_000_000L - 7, 1_700_000_000L + 600 * 3_000);
        foreach (var bucket in new[] { 300L, 600 })
            foreach (var keep in new IReadOnlySet<string>?[] { null, new HashSet<string> { "batteryVoltage", "count" } })
            {
                var history = await _store.AggregateAsync("node-long", from, to, bucket);
                Assert.Equal(3_000, history.Points.Count);
                Assert.True(history.Points.Count >= MeasurementStore.ParallelBuckets);
                var range = new HistoryRange(from, to);
                Assert.Equal(Reference(range, history, keep, "node-long"), Encoding.UTF8.GetString(HistoryJsonWriter.Points("node-long", range, "x", history, keep)));
            }
    }

    [Fact]
    public async Task A_body_kept_in_its_written_pieces_has_the_tag_and_compressed_forms_of_its_bytes_in_one_array()
    {
        // 3,000 points: two halves, each in several chunks; the answer keeps the chunks as they were written.
        var (from, to) = (1_700_000_000L - 7, 1_700_000_000L + 600 * 3_000);
        var history = await _store.AggregateAsync("node-long", from, to, 600);
        var pieces = HistoryJsonWriter.PointsBody("node-long", new HistoryRange(from, to), "x", history, null);
        var whole = new Representation(pieces.ToArray());
        Assert.Equal(whole.Length, pieces.Length);
        Assert.True(pieces.Length > 2 * ChunkedBody.DefaultChunk, $"{pieces.Length} bytes");
        Assert.Equal(Reference(new HistoryRange(from, to), history, null, "node-long"), Encoding.UTF8.GetString(pieces.ToArray()));
        Assert.Equal(whole.Tag, pieces.Tag);
        foreach (var (compressed, decompress) in new (byte[], Func<Stream, Stream>)[]
                 {
                     (pieces.Brotli, s => new BrotliStream(s, CompressionMode.Decompress)),
                     (pieces.Gzip, s => new GZipStream(s, CompressionMode.Decompress)),
                 })
        {
            using var output = new MemoryStream();
            using (var stream = decompress(new MemoryStream(compressed))) stream.CopyTo(output);
            Assert.Equal(whole.ToArray(), output.ToArray());
        }
    }

    [Fact]
    public async Task Csv_export_is_byte_for_byte_what_the_plain_formats_write()
    {
        var output = new MemoryStream();
        var writer = new ExportWriter(output, lines: false);
        writer.Header();
        await foreach (var row in _store.ExportRowsAsync(null, long.MinValue / 2, long.MaxValue / 2))
        {
            writer.Row(row);
            if (writer.Full) await writer.FlushAsync(default);
        }
        await writer.FlushAsync(default);

        var expected = new StringBuilder(ExportWriter.CsvHeader + "\r\n");
        static string Field(string s) => s.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        static string Number(double v)
        {
            var text = v.ToString("R", CultureInfo.InvariantCulture);
            return text.Contains('E') ? v.ToString("0.############################", CultureInfo.InvariantCulture) : text;
        }
        await foreach (var stored in _store.ExportAsync(null, long.MinValue / 2, long.MaxValue / 2))
        {
            var m = stored.Measurement;
            var fields = new List<string>
            {
                Field(m.NodeId), Field(m.IsemsRevision),
                DateTimeOffset.FromUnixTimeSeconds(m.Timestamp).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                Field(m.OpenMpptFirmwareVersion), Number(m.TimeToShutdown), m.PowerSaveLevel != 0 ? "true" : "false",
            };
            fields.AddRange(new[] { m.OpenCircuitVoltage, m.MppVoltage, m.BatteryVoltage, m.BatteryChargeEstimate, m.BatteryHealthEstimate,
                m.BatteryTemperature, m.LowVoltageDisconnectVoltage, m.TemperatureCorrectedVoltage, m.RateBatteryCapacity,
                m.RatedSolarModuleCapacity, m.Latitude, m.Longitude }.Select(Number));
            fields.Add("0x" + (m.Status ?? 0).ToString("x3", CultureInfo.InvariantCulture));
            fields.Add(stored.Id.ToString(CultureInfo.InvariantCulture));
            expected.Append(string.Join(',', fields)).Append("\r\n");
        }
        var count = 0;
        await foreach (var _ in _store.ExportAsync(null, long.MinValue / 2, long.MaxValue / 2)) count++;
        Assert.Equal(_rows.Count, count);
        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public void Numbers_of_few_decimals_are_written_as_the_general_formatters_write_them()
    {
        var random = new Random(12);
        var values = new List<double> { 0, -0.0, 1e-4, 9.99e-5, 1.5e-5, 0.1 + 0.2, 12.5, -3.25, 1e9, 999_999_999.999999, 123_456_789.123456,
            1e-6, 0.000123, 52.507309, 13.458635, 14.086, 18.614, -1, 100, 1e15, double.Epsilon, double.MaxValue, 1.0 / 3 };
        for (var i = 0; i < 300_000; i++)
        {
            var places = random.Next(9);
            var scale = Math.Pow(10, random.Next(11));
            values.Add((i % 3) switch
            {
                0 => Math.Round(random.NextDouble() * scale, places), // a reading: few decimals
                1 => Math.Round((random.NextDouble() - 0.5) * scale, places) / Math.Pow(10, random.Next(4)), // scaled: not always exact
                _ => Math.Round(random.NextDouble() * 20, 3) * random.Next(1, 61) / random.Next(1, 61), // an average
            });
        }
        Span<byte> fast = stackalloc byte[64], general = stackalloc byte[64];
        var taken = 0;
        foreach (var value in values)
        {
            var n = Utf8Text.ShortDecimal(value, fast);
            if (n == 0) continue;
            taken++;
            System.Buffers.Text.Utf8Formatter.TryFormat(value, general, out var written); // Utf8JsonWriter's
            Assert.Equal(Encoding.ASCII.GetString(general[..written]), Encoding.ASCII.GetString(fast[..n]));
            Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(fast[..n])); // the CSV's
        }
        // Readings rounded to a few places, the common case, take the fast path.
        Assert.True(taken > values.Count / 3, $"{taken} of {values.Count}");
        Assert.Equal("12.345", Encoding.ASCII.GetString(fast[..Utf8Text.ShortDecimal(12.345, fast)]));
    }

    [Fact]
    public void Numbers_of_any_digits_are_written_as_the_general_formatters_write_them()
    {
        // Every kind of double the averages are: random bits over the whole range taken (0.001 up to 10⁹), sums over
        // counts of readings, powers of two and their neighbours (the gap below them is half as wide), the doubles
        // next to powers of ten, and exact halfway cases (j/256 near 10⁹, whose two nearest 7-decimal texts are
        // equally near): 3 million values, each against .NET's own two formatters.
        var random = new Random(13);
        var values = new List<double>(3_100_000);
        for (var p = -10; p < 30; p++)
        {
            var two = Math.ScaleB(1.0, p);
            values.AddRange([two, Math.BitDecrement(two), Math.BitIncrement(two), Math.BitDecrement(Math.BitDecrement(two))]);
        }
        for (var p = -3; p <= 9; p++)
        {
            var ten = Math.Pow(10, p);
            values.AddRange([ten, Math.BitDecrement(ten), Math.BitIncrement(ten), -ten, 9.5 * ten / 10, 0.95 * ten]);
        }
        for (var i = 0; i < 1_000; i++) values.Add((double)(2 * random.NextInt64(1L << 36, 1L << 37) + 1) / 256);
        values.AddRange([1e-3, Math.BitDecrement(1e-3), Math.BitDecrement(1e9), 0.1 + 0.2, 1.0 / 3, 2.0 / 3, -1.0 / 7]);
        while (values.Count < 3_000_000)
        {
            switch (random.Next(3))
            {
                case 0: // any bits in the range, either sign
                    var exponent = random.Next(1013, 1053);
                    var bits = ((ulong)exponent << 52) | ((ulong)random.NextInt64() & ((1UL << 52) - 1));
                    if (random.Next(8) == 0) bits |= 1UL << 63;
                    values.Add(BitConverter.UInt64BitsToDouble(bits));
                    break;
                case 1: // an average of readings with few decimals
                    var count = random.Next(1, 1441);
                    var sum = 0.0;
                    var places = random.Next(4);
                    var scale = Math.Pow(10, random.Next(-2, 7));
                    for (var r = 0; r < Math.Min(count, 8); r++) sum += Math.Round(random.NextDouble() * scale, places);
                    values.Add(sum * (count / Math.Min(count, 8)) / count);
                    break;
                default: // a short decimal divided, scaled or nudged by a bit
                    var x = Math.Round(random.NextDouble() * Math.Pow(10, random.Next(-2, 9)), random.Next(8));
                    values.Add(random.Next(3) switch { 0 => x / random.Next(1, 97), 1 => Math.BitIncrement(x), _ => x * 1.1 });
                    break;
            }
        }
        Span<byte> fast = stackalloc byte[64], general = stackalloc byte[64];
        int taken = 0, inRange = 0;
        foreach (var value in values)
        {
            if (Math.Abs(value) is >= 1e-3 and < 1e9) inRange++;
            var n = Utf8Text.Shortest(value, fast);
            if (n == 0) continue;
            taken++;
            System.Buffers.Text.Utf8Formatter.TryFormat(value, general, out var written); // Utf8JsonWriter's
            if (!fast[..n].SequenceEqual(general[..written]))
                Assert.Fail($"{value:R}: {Encoding.ASCII.GetString(fast[..n])}, .NET {Encoding.ASCII.GetString(general[..written])}");
            Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(fast[..n])); // the CSV's
        }
        // All but the exact halfway cases in its range (those go to .NET's formatter).
        Assert.True(taken >= inRange - 1_000 && inRange > values.Count * 9L / 10, $"{taken} of {inRange} in range, of {values.Count}");
        Assert.Equal(0, Utf8Text.Shortest(Math.BitDecrement(1e-3), fast)); // out of its range: .NET's formatter instead
        Assert.Equal(0, Utf8Text.Shortest(1e9, fast));
        Assert.Equal(0, Utf8Text.Shortest(double.NaN, fast));
        Assert.Equal("0.3333333333333333", Encoding.ASCII.GetString(fast[..Utf8Text.Shortest(1.0 / 3, fast)]));
    }

    /// <summary>The points as the writer wrote them before: an object per bucket through Utf8JsonWriter.</summary>
    private static string Reference(HistoryRange range, AggregatedHistory history, IReadOnlySet<string>? keep, string nodeId = "node,\"a\"")
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("nodeId", nodeId);
            writer.WriteString("from", HistoryParameters.Iso(range.From));
            writer.WriteString("to", HistoryParameters.Iso(range.To));
            writer.WriteString("bucket", "x");
            writer.WriteStartArray("points");
            foreach (var point in history.Points)
            {
                var a = point.Aggregate;
                writer.WriteStartObject();
                writer.WriteString("time", DateTimeOffset.FromUnixTimeSeconds(point.Start).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                if (keep is null || keep.Contains("count")) writer.WriteNumber("count", a.Count);
                if (keep is null || keep.Contains("status")) writer.WriteString("status", StatusBitNames.ToApiText(a.Status));
                for (var k = 0; k < Rollups.KeyCount; k++)
                {
                    if (keep is not null && !keep.Contains(Rollups.Keys[k])) continue;
                    writer.WriteStartObject(Rollups.Keys[k]);
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
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void Dispose()
    {
        _store.Dispose();
        _folder.Dispose();
    }
}
