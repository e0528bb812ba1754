using Akka.Actor;
using Isems.Storage;

namespace Isems.Actors.Nodes;

/// <summary>
/// The newest measurement of every node, kept up to date by the node actors as they store lines, so that the most
/// asked question of the API (<c>/measurements/latest</c>) is one message, not a question to every node. It owns no
/// node's state, only this view of it; the <see cref="FleetLatest.Version"/> it answers with moves on with every
/// change, so what is built from one answer (the JSON) can be kept until the next change.
/// </summary>
public sealed class FleetLatestActor : ReceiveActor
{
    private readonly Dictionary<string, StoredMeasurement> _byNode = new(StringComparer.Ordinal);
    private long _version;
    private FleetLatest? _answer;

    public static Props Props() => Akka.Actor.Props.Create(() => new FleetLatestActor());

    public FleetLatestActor()
    {
        Receive<LatestChanged>(changed =>
        {
            var latest = changed.Latest;
            var nodeId = latest.Measurement.NodeId;
            // Two actors may hold lines of one node (it is polled at two addresses): the newest line wins.
            if (_byNode.TryGetValue(nodeId, out var known) &&
                (known.Measurement.Timestamp > latest.Measurement.Timestamp || known.Id == latest.Id)) return;
            _byNode[nodeId] = latest;
            Changed();
        });
        Receive<LatestRemoved>(removed =>
        {
            if (_byNode.Remove(removed.NodeId)) Changed();
        });
        // Cluster mode: a member that just joined has none of this (the newest line wins there, as here).
        Receive<ResendLatest>(resend =>
        {
            foreach (var m in _byNode.Values) resend.To.Tell(new LatestChanged(m));
        });
        Receive<GetFleetLatest>(_ =>
        {
            _answer ??= new FleetLatest(
                _byNode.Values.OrderBy(m => m.Measurement.NodeId, StringComparer.Ordinal).ToArray(), _version);
            Sender.Tell(_answer);
        });
    }

    private void Changed()
    {
        _version++;
        _answer = null;
    }
}

/// <summary>Cluster mode: tell <paramref name="To"/> (another member's latest read model) every newest row held here.</summary>
public sealed record ResendLatest(IActorRef To);
