using Akka.Actor;

namespace Isems.Actors.Writing;

/// <summary>
/// Rows of these nodes were stored or deleted (null: of any node, as retention may touch all). Published on the event
/// stream by whoever changed them, once the change is committed.
/// </summary>
public sealed record RowsChanged(IReadOnlyCollection<string>? NodeIds);

/// <summary>Answered with a <see cref="RowVersion"/>.</summary>
public sealed record GetRowVersion(string NodeId);

/// <summary>Changes whenever the node's stored rows may have: what was built from them before is out of date.</summary>
public sealed record RowVersion(string NodeId, long Epoch, long Version);

/// <summary>
/// A version number per node that moves whenever its stored rows change, so that a node's history, which is read and
/// turned into JSON far more often than it changes, can be kept until it does. It learns of changes from the event
/// stream (<see cref="RowsChanged"/>); a change to every node moves the epoch.
/// </summary>
public sealed class RowVersionsActor : ReceiveActor
{
    private readonly Dictionary<string, long> _versions = new(StringComparer.Ordinal);
    private long _epoch, _next;

    public static Props Props() => Akka.Actor.Props.Create(() => new RowVersionsActor());

    public RowVersionsActor()
    {
        Receive<RowsChanged>(changed =>
        {
            if (changed.NodeIds is null)
            {
                _epoch++;
                _versions.Clear();
                return;
            }
            foreach (var nodeId in changed.NodeIds) _versions[nodeId] = ++_next;
        });
        Receive<GetRowVersion>(get => Sender.Tell(new RowVersion(get.NodeId, _epoch, _versions.GetValueOrDefault(get.NodeId))));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(RowsChanged));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
