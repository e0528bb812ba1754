using Isems.Actors.Writing;

namespace Isems.Api.Json;

/// <summary>
/// The JSON of nodes' histories, kept while their rows do not change (<see cref="RowVersion"/>): the isems-app asks
/// for a node's chart far more often than the node logs a line. Bounded in size, oldest out first; an entry is also
/// dropped after a minute, which bounds how long a change made by another process (an import) goes unseen.
/// </summary>
public sealed class HistoryJsonCache(TimeProvider clock)
{
    public const long MaxBytes = 32 * 1024 * 1024;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private sealed record Entry(long Epoch, long Version, DateTimeOffset Built, Representation Body);

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Node, string Variant), Entry> _byNode = new();
    private long _bytes;

    /// <summary>The answer kept for this version of the node's rows, if it is still fresh.</summary>
    /// <param name="version">the node's rows' version the answer must have been built from</param>
    /// <param name="variant">which answer about the node (its newest 1440 rows: "", a history query: its parameters)</param>
    /// <param name="body">the kept answer, with its ETag and compressed forms</param>
    public bool TryGet(RowVersion version, string variant, out Representation body)
    {
        lock (_gate)
        {
            if (_byNode.TryGetValue((version.NodeId, variant), out var entry) && entry.Epoch == version.Epoch &&
                entry.Version == version.Version && clock.GetUtcNow() - entry.Built < MaxAge)
            {
                body = entry.Body;
                return true;
            }
        }
        body = null!;
        return false;
    }

    public void Put(RowVersion version, string variant, Representation body)
    {
        if (body.Length > MaxBytes / 4) return;
        lock (_gate)
        {
            if (_byNode.Remove((version.NodeId, variant), out var old)) _bytes -= old.Body.Length;
            while (_bytes + body.Length > MaxBytes && _byNode.Count > 0)
            {
                var oldest = _byNode.MinBy(kv => kv.Value.Built);
                _byNode.Remove(oldest.Key);
                _bytes -= oldest.Value.Body.Length;
            }
            _byNode[(version.NodeId, variant)] = new Entry(version.Epoch, version.Version, clock.GetUtcNow(), body);
            _bytes += body.Length;
        }
    }
}
