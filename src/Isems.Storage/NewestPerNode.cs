using Isems.LineFormat;

namespace Isems.Storage;

/// <summary>
/// Finds, for one group of lines, each node's newest line (the first of the highest timestamp), in the order the nodes
/// first appear. Reused from group to group, so a batch allocates nothing here beyond its first group's sizes.
/// A group usually holds one node, which the last-node check serves without a dictionary lookup.
/// </summary>
internal sealed class NewestPerNode
{
    private readonly Dictionary<string, int> _slotOfNode = new(StringComparer.Ordinal);
    private readonly List<int> _rowOfSlot = [];
    private readonly List<(int Row, int Slot)> _marks = [];

    public int Count => _rowOfSlot.Count;

    /// <summary>Row index (in the group) of the newest line of the node in <paramref name="slot"/>.</summary>
    public int RowOf(int slot) => _rowOfSlot[slot];

    /// <summary>The newest rows sorted by row index, each with its slot: walk them alongside the rows.</summary>
    public IReadOnlyList<(int Row, int Slot)> Marks => _marks;

    public void Find(IReadOnlyList<Measurement> lines)
    {
        _slotOfNode.Clear();
        _rowOfSlot.Clear();
        _marks.Clear();
        string? lastNode = null;
        var lastSlot = -1;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            int slot;
            if (lastNode is not null && (ReferenceEquals(lastNode, line.NodeId) || string.Equals(lastNode, line.NodeId, StringComparison.Ordinal)))
                slot = lastSlot;
            else if (!_slotOfNode.TryGetValue(line.NodeId, out slot))
            {
                slot = _rowOfSlot.Count;
                _slotOfNode.Add(line.NodeId, slot);
                _rowOfSlot.Add(i);
                lastNode = line.NodeId;
                lastSlot = slot;
                continue;
            }
            lastNode = line.NodeId;
            lastSlot = slot;
            if (line.Timestamp > lines[_rowOfSlot[slot]].Timestamp) _rowOfSlot[slot] = i;
        }
        for (var slot = 0; slot < _rowOfSlot.Count; slot++) _marks.Add((_rowOfSlot[slot], slot));
        if (_marks.Count > 1) _marks.Sort(static (a, b) => a.Row.CompareTo(b.Row));
    }
}
