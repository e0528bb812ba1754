namespace Isems.Api;

/// <summary>Settings of the read API, built from configuration at start.</summary>
public sealed record ApiOptions
{
    /// <summary><c>/measurements/latest</c> leaves out nodes whose newest line is older than this (HIDE_INACTIVE_AFTER_DAYS).</summary>
    public TimeSpan HideInactiveAfter { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How long a request waits for the actors before answering 503.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The secret the admin API asks for as a bearer token (ISEMS_ADMIN_TOKEN); none = the admin API is off.</summary>
    public string? AdminToken { get; init; }

    /// <summary>The CORS policy of the read-only endpoints: any origin (the isems-app is often served elsewhere).</summary>
    public const string ReadOnlyCorsPolicy = "read-only";
}
