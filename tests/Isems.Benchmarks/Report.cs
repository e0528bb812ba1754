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

    private sealed record Outcome(string Work, string Figure, string Beside, string Target, bool? Met);

    private static readonly List<Outcome> Outcomes = [];

    /// <summary>A figure that has a target (issue 6's table) or belongs in the summary; <paramref name="met"/> null: no target.</summary>
    public static void Summary(string work, string figure, string beside, string target = "", bool? met = null) =>
        Outcomes.Add(new Outcome(work, figure, beside, target, met));

    /// <summary>The one table: every summarised figure of this run, its baseline, its target, and whether it is met.</summary>
    public static void PrintSummary()
    {
        if (Outcomes.Count == 0) return;
        Console.WriteLine("\nsummary (this run, this machine)\n");
        Console.WriteLine("| work | figure | beside it, in this run | target | met |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var o in Outcomes)
            Console.WriteLine($"| {o.Work} | {o.Figure} | {o.Beside} | {o.Target} | {o.Met switch { true => "yes", false => "NO", null => "" }} |");
    }
}
