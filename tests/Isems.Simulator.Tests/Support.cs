using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Isems.Simulator.Tests;

/// <summary>A clock that stands still where the test puts it.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

internal static class Http
{
    /// <summary>One client for the whole run; no automatic decompression, so tests see what went over the wire.</summary>
    public static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.Zero,
        MaxConnectionsPerServer = int.MaxValue,
    })
    {
        Timeout = TimeSpan.FromSeconds(15),
    };

    public static Task<HttpResponseMessage> GetAsync(Uri url, string? range = null, bool gzip = false, CancellationToken cancel = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (range is not null) request.Headers.TryAddWithoutValidation("Range", range);
        if (gzip) request.Headers.AcceptEncoding.ParseAdd("gzip");
        return Client.SendAsync(request, cancel);
    }

    /// <summary>Sends a bare request and returns every byte the server wrote until it closed: the raw response, unparsed.</summary>
    public static async Task<byte[]> RawAsync(Uri url)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n"));
        using var response = new MemoryStream();
        await stream.CopyToAsync(response).WaitAsync(TimeSpan.FromSeconds(10));
        return response.ToArray();
    }

    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition()) await Task.Delay(5, timeout.Token);
    }
}

/// <summary>The shapes of the fields of real lines, field by field, as the samples show them.</summary>
internal static class LineShapes
{
    private const string Integer = @"^\d+$";

    public static readonly string[] Router =
    [
        @"^[^;/\s]+$", "^1$", @"^\d{10}$", "^ATmega8_A_1$", Integer, @"^\d$", @"^\d+(\.\d{1,3})?$", @"^\d+(\.\d{1,3})?$",
        @"^\d+(\.\d{1,3})?$", @"^\d{1,3}$", @"^\d{1,3}$", Integer, @"^11\.7$", @"^14\.2$", Integer, Integer, @"^\d+\.\d{6}$",
        @"^\d+\.\d{6}$", "^[0-9a-f]{3}$",
    ];

    public static readonly string[] Esp =
    [
        @"^[^;/\s]+$", "^1$", @"^\d{10}$", @"^ESP_2\.0$", Integer, @"^\d$", @"^\d+\.\d{2}$", @"^\d+\.\d{2}$", @"^\d+\.\d{2}$",
        @"^\d{1,3}$", @"^\d{1,3}$", @"^-?\d+\.\d{2}$", @"^11\.90$", @"^14\.20$", Integer, Integer, @"^\d+\.\d{4}$",
        @"^\d+\.\d{4}$", "^[0-9a-f]{3}$",
    ];

    /// <summary>The fields of <paramref name="line"/> that do not have the shape; empty when all do.</summary>
    public static IEnumerable<string> Mismatches(string line, string[] shape)
    {
        var fields = line.Split(';');
        if (fields.Length != shape.Length)
        {
            yield return $"{fields.Length} fields";
            yield break;
        }
        for (var i = 0; i < fields.Length; i++)
            if (!System.Text.RegularExpressions.Regex.IsMatch(fields[i], shape[i]))
                yield return $"field {i + 1} '{fields[i]}' is not {shape[i]}";
    }

    /// <summary>What a collector checks (SPEC §1): 18 or 19 fields, numbers parse, a plausible timestamp.</summary>
    public static bool IsMeasurement(string line)
    {
        var fields = line.Split(';');
        if (fields.Length is not (18 or 19) || fields[0].Length == 0) return false;
        if (!long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp) || timestamp < 978_307_200) return false;
        for (var i = 4; i < 18; i++)
            if (!double.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return false;
        return fields.Length == 18 || int.TryParse(fields[18], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _);
    }

    public static long Timestamp(string line) => long.Parse(line.Split(';')[2], CultureInfo.InvariantCulture);

    public static string[] Sample(string file) =>
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Samples", file)).Where(l => l.Length > 0).ToArray();
}
