using Microsoft.AspNetCore.Components;

namespace Isems.Dashboard.Components;

/// <summary>
/// A page that keeps itself current: once interactive, it asks the JSON API again every <see cref="Interval"/> and the
/// circuit sends the browser only what changed. The first answer is read while prerendering, so the page arrives
/// filled in.
/// </summary>
public abstract class LivePage : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Short enough that a node going down shows within seconds; cheap, since /nodes is kept in memory and /measurements/latest answers 304 while nothing changed.</summary>
    protected virtual TimeSpan Interval => TimeSpan.FromSeconds(2);

    protected CancellationToken Stopping => _stop.Token;

    protected abstract Task RefreshAsync(CancellationToken ct);

    protected override Task OnInitializedAsync() => RefreshAsync(_stop.Token);

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive) _ = KeepCurrentAsync();
    }

    private async Task KeepCurrentAsync()
    {
        try
        {
            var pause = Interval;
            while (true)
            {
                await Task.Delay(pause, _stop.Token);
                var started = DateTime.UtcNow;
                await RefreshAsync(_stop.Token);
                await InvokeAsync(StateHasChanged);
                // A large fleet makes each refresh dearer: never spend more than a fifth of the time on it.
                var took = DateTime.UtcNow - started;
                pause = took * 4 > Interval ? took * 4 : Interval;
            }
        }
        catch (OperationCanceledException)
        {
            // the page was closed
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}
