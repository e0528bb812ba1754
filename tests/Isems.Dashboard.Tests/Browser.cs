using Microsoft.Playwright;

namespace Isems.Dashboard.Tests;

/// <summary>
/// One headless Debian chromium for the test class, driven by Playwright's own driver (shipped in its NuGet package):
/// no browser is downloaded. test.sh installs the <c>chromium</c> package.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
            throw new InvalidOperationException($"{Chromium} is missing: apt-get install chromium (test.sh does).");
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true });
    }

    public async Task DisposeAsync()
    {
        if (Instance is not null) await Instance.CloseAsync();
        _playwright?.Dispose();
    }
}
