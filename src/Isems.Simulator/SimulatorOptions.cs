using System.Globalization;

namespace Isems.Simulator;

/// <summary>The command line of the simulator command.</summary>
internal sealed record SimulatorOptions(int Routers, int Esps, int Port, int History, int IntervalSeconds)
{
    public static readonly SimulatorOptions Default = new(Routers: 10, Esps: 0, Port: 8081, History: 60, IntervalSeconds: 60);

    public const string Usage = """
        Simulates ISEMS nodes over HTTP on 127.0.0.1, for trying the collector without real hardware.

        Usage: Isems.Simulator [--nodes N] [--esp M] [--port P] [--history H] [--interval-seconds S]

          --nodes N             router nodes sim-router-0001.. serving /ISEMS/ffopenmppt.log   (default 10)
          --esp M               ESP boards sim-esp-0001.. serving their last 5 lines at csv.log (default 0)
          --port P              port on 127.0.0.1, 0 = any free port                           (default 8081)
          --history H           lines every node has logged already                            (default 60)
          --interval-seconds S  every S seconds each node logs one more line, stamped one node
                                interval (router 60 s, ESP 15 s) after its last              (default 60)
          --help                this text

        Prints one line with the nodes' comma-separated log URLs, ready for ISEMS_ROUTER_IPS,
        then serves until Ctrl+C.
        """;

    /// <summary>Parses <c>--name value</c> and <c>--name=value</c>; null with an error message when the arguments are wrong.</summary>
    public static SimulatorOptions? Parse(IReadOnlyList<string> args, out string? error, out bool help)
    {
        var options = Default;
        error = null;
        help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h" or "-?")
            {
                help = true;
                return options;
            }
            var equals = arg.IndexOf('=');
            var name = equals > 0 ? arg[..equals] : arg;
            string? value = equals > 0 ? arg[(equals + 1)..] : i + 1 < args.Count ? args[++i] : null;

            (int Min, int Max)? bounds = name switch
            {
                "--nodes" or "--esp" => (0, 100_000),
                "--port" => (0, 65_535),
                "--history" => (0, 1_000_000),
                "--interval-seconds" => (1, 86_400),
                _ => null,
            };
            if (bounds is not { } b)
            {
                error = $"unknown option '{arg}' (see --help)";
                return null;
            }
            if (value is null || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < b.Min || number > b.Max)
            {
                error = $"{name} needs a whole number from {b.Min} to {b.Max}, got '{value}'";
                return null;
            }
            options = name switch
            {
                "--nodes" => options with { Routers = number },
                "--esp" => options with { Esps = number },
                "--port" => options with { Port = number },
                "--history" => options with { History = number },
                _ => options with { IntervalSeconds = number },
            };
        }
        if (options.Routers + options.Esps == 0)
        {
            error = "nothing to simulate: --nodes and --esp are both 0";
            return null;
        }
        return options;
    }
}
