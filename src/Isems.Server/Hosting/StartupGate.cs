using Isems.Actors;

namespace Isems.Server.Hosting;

/// <summary>
/// The host's start goes on once the actors say start-up is done (<see cref="CollectorStartup.Ready"/>: the registry
/// merged, every node actor started with its saved state), so the API's first answer after a restart is the one
/// before it. Awaited, never blocked on: the actors load their state themselves meanwhile.
/// </summary>
public sealed class StartupGate(CollectorStartup startup) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => startup.Ready.WaitAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
