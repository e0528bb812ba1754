using Akka.Actor;

namespace Isems.Actors.Nodes;

/// <summary>
/// Asks every node the same question and answers once with all replies, or with those that came within the timeout:
/// a node stuck behind a long message never holds up the fleet's answer. One short-lived actor per question.
/// </summary>
public sealed class FleetQueryActor<TReply> : ReceiveActor, IWithTimers
{
    private sealed record Timeout;

    private readonly List<TReply> _replies = [];
    private readonly Func<IReadOnlyList<TReply>, object> _answer;
    private readonly IActorRef _replyTo;
    private int _outstanding;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(
        IReadOnlyCollection<(string Key, IActorRef Node)> nodes,
        Func<string, object> question,
        Func<IReadOnlyList<TReply>, object> answer,
        IActorRef replyTo,
        TimeSpan timeout) =>
        Akka.Actor.Props.Create(() => new FleetQueryActor<TReply>(nodes, question, answer, replyTo, timeout));

    public FleetQueryActor(
        IReadOnlyCollection<(string Key, IActorRef Node)> nodes,
        Func<string, object> question,
        Func<IReadOnlyList<TReply>, object> answer,
        IActorRef replyTo,
        TimeSpan timeout)
    {
        _answer = answer;
        _replyTo = replyTo;
        _outstanding = nodes.Count;

        Receive<TReply>(reply =>
        {
            _replies.Add(reply);
            if (--_outstanding == 0) Finish();
        });
        Receive<Timeout>(_ => Finish());

        foreach (var (key, node) in nodes) node.Tell(question(key));
        if (_outstanding == 0) Finish();
        else Timers.StartSingleTimer("timeout", new Timeout(), timeout);
    }

    private void Finish()
    {
        _replyTo.Tell(_answer(_replies));
        Context.Stop(Self);
    }
}
