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

    public Task EnterAsync() => _slots.WaitAsync();

    public void Leave() => _slots.Release();
}
