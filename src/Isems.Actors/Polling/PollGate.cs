namespace Isems.Actors.Polling;

/// <summary>
/// Bounds the polls in progress over all nodes — fetched, parsed, and waiting for the writer — so that when many
/// nodes are due at once (a start, update-data, a thousand routers) memory holds a few dozen logs, not all of them,
/// and the writer is fed no faster than it commits. A node waits for a slot before it fetches and gives it back
/// when its lines are stored.
/// </summary>
public sealed class PollGate(int slots)
{
    private readonly SemaphoreSlim _slots = new(slots, slots);

    private int _queued;

    /// <summary>The slots free now (for tests and diagnostics).</summary>
    public int Free => _slots.CurrentCount;

    /// <summary>The waits not yet granted nor given up (for tests and diagnostics).</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>A place in the queue for a slot; <see cref="GiveUp"/> it if the slot is no longer wanted.</summary>
    public Waiting Wait()
    {
        var cancel = new CancellationTokenSource();
        Interlocked.Increment(ref _queued);
        var granted = _slots.WaitAsync(cancel.Token);
        granted.ContinueWith(_ => Interlocked.Decrement(ref _queued), TaskContinuationOptions.ExecuteSynchronously);
        return new Waiting(granted, cancel);
    }

    /// <summary>
    /// Leaves the queue, and gives the slot back if it was granted meanwhile but never used: a node actor that stops
    /// while it waits (its shard moved to another member, the node removed) would otherwise hold a slot for ever, and
    /// once every slot is held so, no node of the process is polled again.
    /// </summary>
    public void GiveUp(Waiting waiting)
    {
        waiting.Cancel.Cancel();
        waiting.Granted.ContinueWith(granted =>
        {
            if (granted.IsCompletedSuccessfully) Leave();
            waiting.Cancel.Dispose();
        }, TaskContinuationOptions.ExecuteSynchronously);
    }

    public void Leave() => _slots.Release();

    /// <param name="Granted">Completes when the slot is the waiter's (cancelled once given up before that).</param>
    public sealed record Waiting(Task Granted, CancellationTokenSource Cancel);
}
