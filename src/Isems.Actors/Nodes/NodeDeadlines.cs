using Akka.Actor;

namespace Isems.Actors.Nodes;

/// <summary>
/// A node's deadlines on one timer of its actor: its next poll, its NodeSilent check and its NodeDown check. A timer
/// costs about 300 bytes in Akka's scheduler, and almost every node has two deadlines (its slot, and 45 minutes after
/// its newest line), so one timer for the nearest deadline instead of one per deadline is 30 MiB for 100,000 nodes.
/// The timer is armed again only when a deadline comes before the instant it is armed for: a deadline moved later (a
/// new line moving the silence check on) lets it go off early, find nothing due and arm for the next, so a steady
/// poll costs one scheduling, not two. Owned by one <see cref="NodeActor"/>, only ever called in its turn.
/// </summary>
public sealed class NodeDeadlines(ITimerScheduler timers)
{
    /// <summary>The node's timer went off.</summary>
    public sealed record WakeUp
    {
        public static readonly WakeUp Instance = new();
    }

    [Flags]
    public enum Due
    {
        None = 0,
        Poll = 1,
        Silence = 2,
        Down = 4,
    }

    private const string Timer = "wake";

    // UTC ticks; 0: no such deadline. Longs, not DateTimeOffset?s: 24 bytes less each, for every node.
    private long _poll, _silence, _down;
    private long _armedFor; // 0: the timer is not armed
    private bool _held;

    /// <summary>When the node is polled next on its schedule; null when it is not.</summary>
    public DateTimeOffset? Poll => _poll == 0 ? null : new DateTimeOffset(_poll, TimeSpan.Zero);

    public void SetPoll(DateTimeOffset at, DateTimeOffset now) => Set(ref _poll, at, now);

    public void ClearPoll() => _poll = 0;

    public void SetSilence(DateTimeOffset at, DateTimeOffset now) => Set(ref _silence, at, now);

    public void SetDown(DateTimeOffset at, DateTimeOffset now) => Set(ref _down, at, now);

    public void ClearDown() => _down = 0;

    /// <summary>
    /// The timer went off: the deadlines due (each taken away). The timer is not armed again here: the actor handles
    /// what is due, which may set new deadlines, and then calls <see cref="Rearm"/>.
    /// </summary>
    public Due WentOff(DateTimeOffset now)
    {
        // The scheduler's clock and the actor's may differ by a tick: what the timer was armed for is due.
        var upTo = Math.Max(now.UtcTicks, _armedFor);
        _armedFor = 0;
        var due = Due.None;
        if (_poll != 0 && _poll <= upTo) { due |= Due.Poll; _poll = 0; }
        if (_silence != 0 && _silence <= upTo) { due |= Due.Silence; _silence = 0; }
        if (_down != 0 && _down <= upTo) { due |= Due.Down; _down = 0; }
        return due;
    }

    /// <summary>
    /// A poll is under way: deadlines set meanwhile do not arm the timer, since the poll's end sets the next slot (a
    /// steady poll would otherwise arm it twice: for the silence check moved on, then for the slot).
    /// </summary>
    public void Hold() => _held = true;

    /// <summary>The poll ended: the timer is armed for the nearest deadline.</summary>
    public void Release(DateTimeOffset now)
    {
        _held = false;
        Rearm(now);
    }

    /// <summary>Arms the timer for the nearest deadline, unless it is armed for that or before (or held).</summary>
    public void Rearm(DateTimeOffset now)
    {
        if (_held) return;
        var next = Nearest(Nearest(_poll, _silence), _down);
        // Armed for an instant before this one: it goes off then, finds nothing due, and arms for this.
        if (next == 0 || _armedFor != 0 && _armedFor <= next) return;
        Arm(next, now);
    }

    private void Set(ref long deadline, DateTimeOffset at, DateTimeOffset now)
    {
        deadline = Math.Max(at.UtcTicks, 1);
        Rearm(now);
    }

    private void Arm(long at, DateTimeOffset now)
    {
        _armedFor = at;
        timers.StartSingleTimer(Timer, WakeUp.Instance, TimeSpan.FromTicks(Math.Max(0, at - now.UtcTicks)));
    }

    private static long Nearest(long a, long b) => a == 0 ? b : b == 0 ? a : Math.Min(a, b);
}
