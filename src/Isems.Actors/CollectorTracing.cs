using System.Diagnostics;

namespace Isems.Actors;

/// <summary>
/// The collector's spans: a poll (with its fetch, parse, write and commit), an MQTT message. Without a listener (no
/// OTLP endpoint configured) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null at the
/// cost of one check, so the callers hold nullable activities and do nothing more.
/// </summary>
public static class CollectorTracing
{
    public const string SourceName = "Isems.Collector";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// A span as a child of <paramref name="parent"/> (a span held across messages, not <see cref="Activity.Current"/>),
    /// leaving <see cref="Activity.Current"/> as it was: an actor handles many nodes' messages on the same threads, and
    /// a current span would otherwise become the parent of whatever that thread runs next.
    /// </summary>
    public static Activity? Start(string name, Activity? parent, DateTimeOffset startTime = default, ActivityKind kind = ActivityKind.Internal)
    {
        if (!Source.HasListeners()) return null;
        var current = Activity.Current;
        Activity.Current = null; // no parent but the one given: a poll is a trace of its own
        var activity = Source.StartActivity(name, kind, parent?.Context ?? default, startTime: startTime);
        Activity.Current = current;
        return activity;
    }

    /// <summary>A span as a child of a context carried in a message (the writer's commit of a poll's lines).</summary>
    public static Activity? Start(string name, ActivityContext parent, DateTimeOffset startTime = default)
    {
        if (parent == default || !Source.HasListeners()) return null;
        var current = Activity.Current;
        var activity = Source.StartActivity(name, ActivityKind.Internal, parent, startTime: startTime);
        Activity.Current = current;
        return activity;
    }

    /// <summary>Ends a span, leaving <see cref="Activity.Current"/> as it was.</summary>
    public static void End(this Activity? activity, string? error = null)
    {
        if (activity is null) return;
        var current = Activity.Current;
        if (error is not null) activity.SetStatus(ActivityStatusCode.Error, error);
        activity.Stop();
        Activity.Current = current;
    }
}
