using Isems.Actors.Writing;
using Isems.LineFormat;
using Isems.Storage;

namespace Isems.Actors.Polling;

/// <summary>
/// A node's log as its actor knows it, as plain state: its URL, how far it was read (moved on only once the lines
/// that read led to are committed, so a failed write is fetched again), the bookmark saved before the last stop
/// until the URL is known, and the write in flight. No Akka, no I/O.
/// </summary>
public sealed class NodeLog(string nodeKey, LogBookmark? resumeFrom)
{
    private LogBookmark? _resumeFrom = resumeFrom; // saved before the last stop; taken up when the URL is told
    private (long Id, LogPosition Next, ParsedPayload Parsed)? _writing;

    public Uri? Url { get; private set; }
    public LogPosition Position { get; private set; } = LogPosition.Start;

    /// <summary>The bookmark the node's saved state holds: kept until the URL is told, unless one is kept already.</summary>
    public void Saved(LogBookmark bookmark)
    {
        if (Url is null) _resumeFrom ??= bookmark;
    }

    /// <summary>The id the saved bookmark for <paramref name="url"/> names (read before the bookmark is taken up).</summary>
    public string? LoggedId(Uri url) =>
        Url is null && _resumeFrom is { NodeId: { } id } saved && saved.LogUrl == url.ToString() ? id : null;

    /// <summary>The log is at <paramref name="url"/>: read on from the saved bookmark if it is that log's, else from the start.</summary>
    public void Use(Uri url)
    {
        if (Url != url)
            Position = _resumeFrom is { } saved && saved.LogUrl == url.ToString()
                ? new LogPosition(saved.Offset, saved.PrefixHash, saved.TailHash, saved.TailLength, Resumed: true)
                : LogPosition.Start;
        _resumeFrom = null;
        Url = url;
    }

    /// <summary>The node is no longer configured: no log.</summary>
    public void Forget() => Url = null;

    /// <summary>The node moved here from its address: read on exactly from where the actor there stopped.</summary>
    public void TakeUp(LogBookmark? moved)
    {
        if (moved is null || Url is not null) return;
        Url = new Uri(moved.LogUrl);
        Position = new LogPosition(moved.Offset, moved.PrefixHash, moved.TailHash, moved.TailLength);
    }

    /// <summary>Where the log was read up to, as saved (naming <paramref name="nodeId"/>); null without a log.</summary>
    public LogBookmark? Bookmark(string? nodeId) => Url is null ? null : At(Position, nodeId);

    /// <summary>A read brought no line: it is done, and the next read goes on from <paramref name="next"/>.</summary>
    public void Read(LogPosition next) => Position = next;

    /// <summary>The log is gone (rotated away): the next one is read from its start.</summary>
    public void Missing() => Position = LogPosition.Start;

    /// <summary>The lines read go to the writer, with the bookmark to save with them; the position moves once they are stored.</summary>
    public WriteLines Write(long correlationId, LogPosition next, ParsedPayload parsed, System.Diagnostics.ActivityContext trace)
    {
        _writing = (correlationId, next, parsed);
        return new WriteLines(parsed.Lines, correlationId, At(next, parsed.Lines[^1].NodeId), trace);
    }

    public bool IsWriting(long correlationId) => _writing?.Id == correlationId;

    /// <summary>The lines are stored: the log is read up to where they end. Returns what was parsed.</summary>
    public ParsedPayload Written()
    {
        var (_, next, parsed) = _writing!.Value;
        _writing = null;
        Position = next;
        return parsed;
    }

    /// <summary>The lines were not stored: they are fetched again next time.</summary>
    public void NotWritten() => _writing = null;

    private LogBookmark At(LogPosition p, string? nodeId) =>
        new(nodeKey, Url!.ToString(), p.Offset, p.PrefixHash, p.TailHash, p.TailLength, nodeId);
}
