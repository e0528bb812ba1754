using Microsoft.Playwright;

namespace Isems.Dashboard.Tests;

/// <summary>
/// Everything a page did that an operator on an offline mesh would suffer from: console errors, uncaught errors,
/// failed requests, and any request to another host than the collector.
/// </summary>
public sealed class PageWatch
{
    private readonly List<string> _problems = [];
    private readonly List<(string Url, long Bytes)> _responses = [];

    public PageWatch(IPage page, Uri collector)
    {
        var origin = collector.GetLeftPart(UriPartial.Authority);
        page.Console += (_, message) =>
        {
            if (message.Type == "error") Add($"console error: {message.Text}");
        };
        page.PageError += (_, error) => Add($"page error: {error}");
        page.Request += (_, request) =>
        {
            if (request.Url.StartsWith("data:", StringComparison.Ordinal)) return;
            var uri = new Uri(request.Url);
            if (uri.GetLeftPart(UriPartial.Authority) != origin) Add($"request to another origin: {request.Url}");
        };
        page.RequestFailed += (_, request) =>
        {
            // A page closed or navigated away cancels its circuit and any request still open: not an error.
            if (request.Failure is { } failure && !failure.Contains("ERR_ABORTED")) Add($"request failed: {request.Url} ({failure})");
        };
    }

    public IReadOnlyList<string> Problems
    {
        get { lock (_problems) return _problems.ToList(); }
    }

    private void Add(string problem)
    {
        lock (_problems) _problems.Add(problem);
    }

    public void AssertClean() => Assert.True(Problems.Count == 0, "The page had problems:\n" + string.Join("\n", Problems));
}
