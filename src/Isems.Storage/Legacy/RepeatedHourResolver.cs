namespace Isems.Storage.Legacy;

/// <summary>
/// Tells the two passes of the repeated autumn hour apart from the order in which the original stored the rows. The
/// original inserted each node's lines oldest first, so its row ids follow each node's clock: within one node, the
/// repeated hour's rows first come as summer time (+02:00); once a row's wall clock is earlier than or equal to one seen
/// before in that hour, the clock has gone back and that row and every later one of the node in that hour are winter
/// time (+01:00). Rows must be fed in id order. A node whose first pass is missing entirely (it was offline) cannot be
/// told apart and is read as summer time.
/// </summary>
public sealed class RepeatedHourResolver
{
    private readonly Dictionary<string, NodeState> _nodes = new(StringComparer.Ordinal);

    /// <summary>True when this row of the node, whose wall clock is in a repeated hour, is in the second (winter) pass.</summary>
    public bool IsSecondPass(string nodeId, DateTime wallClock)
    {
        var day = DateOnly.FromDateTime(wallClock);
        if (!_nodes.TryGetValue(nodeId, out var state) || state.Day != day)
        {
            _nodes[nodeId] = new NodeState(day, wallClock, SecondPass: false);
            return false;
        }
        var secondPass = state.SecondPass || wallClock <= state.Latest;
        _nodes[nodeId] = new NodeState(day, wallClock > state.Latest ? wallClock : state.Latest, secondPass);
        return secondPass;
    }

    /// <param name="Day">The day of the change the state belongs to (one change a day at most).</param>
    /// <param name="Latest">The latest wall clock of the node seen in that repeated hour.</param>
    private readonly record struct NodeState(DateOnly Day, DateTime Latest, bool SecondPass);
}
