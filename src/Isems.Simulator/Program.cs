using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Isems.Simulator;

/// <summary>
/// <c>dotnet run --project src/Isems.Simulator -- --nodes 10 --esp 2</c>: simulated nodes on loopback that keep
/// logging in real time, to point a collector at by hand.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        return await RunAsync(args, Console.Out, Console.Error, stop.Token);
    }

    /// <summary>Runs the command until <paramref name="stop"/>; returns the exit code (2: wrong arguments).</summary>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter errors, CancellationToken stop)
    {
        var options = SimulatorOptions.Parse(args, out var error, out var help);
        if (help)
        {
            await output.WriteLineAsync(SimulatorOptions.Usage);
            return 0;
        }
        if (options is null)
        {
            await errors.WriteLineAsync($"Isems.Simulator: {error}");
            return 2;
        }

        SimulatedFleet fleet;
        try
        {
            fleet = SimulatedFleet.Start(options.Port);
        }
        catch (SocketException e)
        {
            await errors.WriteLineAsync($"Isems.Simulator: cannot listen on 127.0.0.1:{options.Port}: {e.Message} (try another --port)");
            return 1;
        }

        await using (fleet)
        {
            for (var i = 1; i <= options.Routers; i++) fleet.AddNode($"sim-router-{i:D4}", NodeKind.Router, options.History);
            for (var i = 1; i <= options.Esps; i++) fleet.AddNode($"sim-esp-{i:D4}", NodeKind.Esp, options.History);

            await errors.WriteLineAsync(
                $"Simulating {options.Routers} routers and {options.Esps} ESP boards at {fleet.BaseAddress}, a line each every {options.IntervalSeconds} s. Ctrl+C stops.");
            // stdout carries only the URLs, so they can be piped or pasted into ISEMS_ROUTER_IPS as they are.
            await output.WriteLineAsync(string.Join(",", fleet.Nodes.Select(n => n.LogUrl.AbsoluteUri)));
            await output.FlushAsync(CancellationToken.None);

            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.IntervalSeconds));
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                    foreach (var node in fleet.Nodes) node.Append();
            }
            catch (OperationCanceledException)
            {
            }
            await errors.WriteLineAsync($"Stopped after {fleet.RequestsServed} requests, {fleet.BytesServed} body bytes served.");
        }
        return 0;
    }
}
