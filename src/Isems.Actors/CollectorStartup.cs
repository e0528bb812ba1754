namespace Isems.Actors;

/// <summary>
/// How far start-up has come, fed by the actors as they get there, never waited for by blocking: the node registry
/// says when ISEMS_ROUTER_IPS is merged, the start barrier when every node actor has loaded its saved state and taken
/// its start. Readiness (<c>/readyz</c>) reads it, and the host awaits <see cref="Ready"/> before it serves, so the
/// API never answers before the nodes it lists are there.
/// </summary>
public sealed class CollectorStartup
{
    private readonly TaskCompletionSource _merged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _registryFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The registry has merged ISEMS_ROUTER_IPS and told every node to poll.</summary>
    public Task Merged => _merged.Task;

    /// <summary>
    /// The registry's journal could not be read or written (damaged, its database away): the configured nodes are
    /// polled without it. A registry that is only slow (a large merge on a busy machine) is waited for instead: polling
    /// the nodes under their addresses meanwhile would start a second actor for every node identified before.
    /// </summary>
    public Task RegistryFailed => _registryFailed.Task;

    /// <summary>The registry is merged and every node actor has started.</summary>
    public Task Ready => _ready.Task;

    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>What start-up is waiting for, for readiness to say.</summary>
    public string Waiting => _merged.Task.IsCompleted
        ? "the node actors are loading their saved state"
        : "the node registry is recovering its journal and merging ISEMS_ROUTER_IPS";

    public void RegistryMerged() => _merged.TrySetResult();

    public void RegistryFailedToStart() => _registryFailed.TrySetResult();

    public void NodesStarted() => _ready.TrySetResult();
}
