using System.Diagnostics;
using Isems.Actors.Polling;
using Isems.LineFormat;

namespace Isems.Actors.Nodes;

/// <summary>
/// The spans of one poll: the poll itself, and one step at a time below it (fetch, parse, write; the writer adds the
/// commit below the write). Made only while a tracer listens, so a node actor holds one null reference otherwise.
/// </summary>
internal sealed class PollTrace
{
    private readonly Activity _poll;
    private Activity? _step;

    private PollTrace(Activity poll) => _poll = poll;

    public static PollTrace? Start(string nodeKey, Uri url)
    {
        var poll = CollectorTracing.Start("poll", parent: null);
        if (poll is null) return null;
        poll.SetTag("isems.node.key", nodeKey);
        poll.SetTag("url.full", url.ToString());
        var trace = new PollTrace(poll);
        trace.Step("fetch");
        return trace;
    }

    /// <summary>Ends the step under way and starts <paramref name="name"/>; its context, for a message that carries it on.</summary>
    public ActivityContext Step(string name)
    {
        _step.End();
        _step = CollectorTracing.Start(name, _poll);
        return _step?.Context ?? default;
    }

    public void Fetched(FetchResult result)
    {
        _step?.SetTag("isems.fetch.bytes", result.WireBytes);
        switch (result)
        {
            case LogFetched log:
                _step?.SetTag("isems.fetch.whole_log", log.FromStart);
                break;
            case LogMissing:
                _step?.SetTag("isems.fetch.result", "no_log");
                break;
            case FetchFailed failed:
                _step?.SetStatus(ActivityStatusCode.Error, failed.Error);
                break;
        }
    }

    public void Parsed(ParsedPayload parsed)
    {
        _step?.SetTag("isems.lines.parsed", parsed.Lines.Count);
        _step?.SetTag("isems.lines.rejected", parsed.Rejections.Total);
    }

    public void End(int stored, int duplicates, string? error)
    {
        _step.End(error);
        _step = null;
        _poll.SetTag("isems.lines.stored", stored);
        _poll.SetTag("isems.lines.duplicate", duplicates);
        _poll.End(error);
    }
}
