using Akka.Actor;

namespace Isems.Actors.Writing;

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
