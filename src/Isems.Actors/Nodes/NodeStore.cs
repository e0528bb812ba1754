using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// What a node actor reads back from the database for itself: its newest stored row, when it starts under an id whose
/// rows were stored before (a node moved from its address to its id). Reads only; the writer writes.
/// </summary>
public sealed class NodeStore(MeasurementStore store)
{
    public async Task<StoredMeasurement?> LatestAsync(string nodeId) =>
        (await store.HistoryAsync(nodeId, 1).ConfigureAwait(false)) is [var newest] ? newest : null;
}
