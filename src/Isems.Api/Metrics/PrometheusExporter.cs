using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Isems.Api.Metrics;

/// <summary>
/// Listens to the host's own meters (those its <see cref="IMeterFactory"/> created, so another host in the same
/// process is not mixed in) and to the runtime's, keeps counters, gauges and histograms, and writes them in
/// Prometheus's text format. Written here rather than taken from a library because it is small, and because the
/// libraries keep one registry per process.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private const string RuntimeMeter = "System.Runtime";

    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<Instrument, Series> _series = [];

    public PrometheusExporter(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name != RuntimeMeter) return;
            lock (_gate) _series[instrument] = new Series(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>The text of a scrape; <paramref name="extra"/> adds series computed at scrape time (the fleet's states).</summary>
    public string Scrape(Action<PrometheusWriter>? extra = null)
    {
        _listener.RecordObservableInstruments();
        var writer = new PrometheusWriter();
        lock (_gate)
            foreach (var series in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
                series.WriteTo(writer);
        extra?.Invoke(writer);
        return writer.ToString();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = PrometheusWriter.Labels(tags);
        lock (_gate)
            if (_series.TryGetValue(instrument, out var series)) series.Record(labels, value);
    }

    public void Dispose() => _listener.Dispose();

    private sealed class Series(Instrument instrument)
    {
        private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Histogram> _histograms = new(StringComparer.Ordinal);
        private readonly double[] _bounds = Bounds(instrument);

        public string Name { get; } = PrometheusName(instrument);

        private bool IsHistogram => instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal);

        // Counters and up-down counters add up what is recorded; their observable forms report the total itself.
        private bool Accumulates => instrument.GetType().Name is "Counter`1" or "UpDownCounter`1";

        private string Type => instrument.GetType().Name switch
        {
            "Counter`1" or "ObservableCounter`1" => "counter",
            _ when IsHistogram => "histogram",
            _ => "gauge",
        };

        public void Record(string labels, double value)
        {
            if (IsHistogram)
            {
                if (!_histograms.TryGetValue(labels, out var histogram))
                    _histograms[labels] = histogram = new Histogram(new long[_bounds.Length]);
                histogram.Record(value, _bounds);
            }
            else if (Accumulates) _values[labels] = _values.GetValueOrDefault(labels) + value;
            else _values[labels] = value;
        }

        public void WriteTo(PrometheusWriter writer)
        {
            if (_values.Count == 0 && _histograms.Count == 0) return;
            var name = Type == "counter" && !Name.EndsWith("_total", StringComparison.Ordinal) ? Name + "_total" : Name;
            writer.Header(name, Type, instrument.Description);
            foreach (var (labels, value) in _values) writer.Sample(name, labels, value);
            foreach (var (labels, histogram) in _histograms)
            {
                long cumulative = 0;
                for (var i = 0; i < _bounds.Length; i++)
                {
                    cumulative += histogram.Buckets[i];
                    writer.Sample(name + "_bucket", PrometheusWriter.With(labels, "le", _bounds[i].ToString(CultureInfo.InvariantCulture)), cumulative);
                }
                writer.Sample(name + "_bucket", PrometheusWriter.With(labels, "le", "+Inf"), histogram.Count);
                writer.Sample(name + "_sum", labels, histogram.Sum);
                writer.Sample(name + "_count", labels, histogram.Count);
            }
        }

        // Prometheus names carry their unit: seconds and bytes, as its conventions ask.
        private static string PrometheusName(Instrument instrument)
        {
            var name = instrument.Name.Replace('.', '_').Replace('-', '_');
            var suffix = instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
            return suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal) ? name + suffix : name;
        }

        private static double[] Bounds(Instrument instrument) => instrument switch
        {
            Histogram<int> { Advice.HistogramBucketBoundaries: { } b } => b.Select(x => (double)x).ToArray(),
            Histogram<double> { Advice.HistogramBucketBoundaries: { } b } => b.ToArray(),
            _ => [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        };
    }

    private sealed class Histogram(long[] buckets)
    {
        public long[] Buckets { get; } = buckets;
        public long Count { get; private set; }
        public double Sum { get; private set; }

        public void Record(double value, double[] bounds)
        {
            Count++;
            Sum += value;
            var i = Array.FindIndex(bounds, b => value <= b);
            if (i >= 0) Buckets[i]++;
        }
    }
}

/// <summary>Prometheus's text exposition format, version 0.0.4.</summary>
public sealed class PrometheusWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();

    public void Header(string name, string type, string? help)
    {
        if (!string.IsNullOrEmpty(help)) _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", @"\\").Replace("\n", @"\n")).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, string labels, double value)
    {
        _text.Append(name);
        if (labels.Length > 0) _text.Append('{').Append(labels).Append('}');
        _text.Append(' ').Append(value.ToString("G17", CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>One gauge with a sample per label value, such as nodes by state.</summary>
    public void Gauge(string name, string help, string label, IEnumerable<KeyValuePair<string, double>> samples)
    {
        Header(name, "gauge", help);
        foreach (var (value, sample) in samples) Sample(name, $"{label}=\"{Escape(value)}\"", sample);
    }

    public void Gauge(string name, string help, double value)
    {
        Header(name, "gauge", help);
        Sample(name, "", value);
    }

    public static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var parts = new List<string>(tags.Length);
        foreach (var tag in tags) parts.Add($"{tag.Key.Replace('.', '_')}=\"{Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")}\"");
        parts.Sort(StringComparer.Ordinal);
        return string.Join(",", parts);
    }

    public static string With(string labels, string name, string value) =>
        labels.Length == 0 ? $"{name}=\"{value}\"" : $"{labels},{name}=\"{value}\"";

    private static string Escape(string value) => value.Replace("\\", @"\\").Replace("\"", "\\\"").Replace("\n", @"\n");

    public override string ToString() => _text.ToString();
}
