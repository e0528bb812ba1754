namespace Isems.Actors.Nodes;

/// <summary>
/// A node under its address telling the registry the id its lines carry (<see cref="IdentifyNode"/>), until the
/// registry moves it to the actor under that id (this one stops) or answers that it stays (<see cref="IdentityKept"/>).
/// The registry is told again with backoff, so an identification lost while it was away does not leave the node under
/// its address until the next restart. Until the registry answers or the first retry, polls wait: a poll under way
/// here as the node moves would store lines whose alerts and newest row the actor under the id never sees; the first
/// retry lets them go on, so a registry that is away never stops a node's polling.
/// Plain state owned by one <see cref="NodeActor"/>, made only for a node that learns its id (most never do).
/// </summary>
public sealed class NodeIdentity
{
    public static readonly TimeSpan RetryMin = TimeSpan.FromSeconds(5), RetryMax = TimeSpan.FromMinutes(2);

    private int _attempts;
    private bool _holding; // polls wait
    private bool _pollHeld; // a poll that came due (or was asked for) meanwhile

    /// <summary>Polls wait from now: the node is about to tell its id (a start that knows it from the bookmark).</summary>
    public void Hold() => _holding = true;

    /// <summary>
    /// The registry has been told (<paramref name="reached"/>: the message went to a registry, not to nowhere). Polls
    /// wait only after the first telling that reached it; <paramref name="pollNow"/>: a poll held until now starts.
    /// Returns when to tell again.
    /// </summary>
    public TimeSpan Told(bool reached, out bool pollNow)
    {
        pollNow = false;
        if (reached && _attempts == 0) _holding = true;
        else pollNow = Release();
        return Isems.Actors.Backoff.Exponential(RetryMin, RetryMax, _attempts++);
    }

    /// <summary>A poll came due: whether it may start now; if not, it is kept until <see cref="Release"/>.</summary>
    public bool MayPoll()
    {
        if (!_holding) return true;
        _pollHeld = true;
        return false;
    }

    /// <summary>The registry answered, or the retry came: polls go on; true when one was held and starts now.</summary>
    public bool Release()
    {
        _holding = false;
        if (!_pollHeld) return false;
        _pollHeld = false;
        return true;
    }
}
