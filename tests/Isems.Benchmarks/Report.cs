using System.Diagnostics;

namespace Isems.Benchmarks;

internal static class Report
{
    /// <summary>Best of <paramref name="runs"/> after one warm-up: the figure least disturbed by the rest of the machine.</summary>
    public static TimeSpan Best(int runs, Action action)
    {
        action();
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            if (watch.Elapsed < best) best = watch.Elapsed;
        }
        return best;
    }

    public static void Row(string what, double value, string unit, string? beside = null) =>
        Console.WriteLine($"  {what,-58} {value,14:N0} {unit,-10} {beside}");

    public static void Header(string title) => Console.WriteLine($"\n{title}");
}
