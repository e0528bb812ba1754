using System.ComponentModel.DataAnnotations;
using Isems.Storage;

namespace Isems.Server.Configuration;

/// <summary>
/// Checks the settings before anything starts, so a wrong value gives the operator one line saying what to change
/// instead of a stack trace from deep inside the start-up.
/// </summary>
public static class ConfigurationCheck
{
    public static IReadOnlyList<string> Problems(IConfiguration configuration)
    {
        var problems = new List<string>();
        CollectorOptions options;
        try
        {
            options = configuration.Get<CollectorOptions>() ?? new CollectorOptions();
        }
        catch (InvalidOperationException e)
        {
            // A number setting that is not a number: the binder names the key and the value.
            return [e.Message];
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        problems.AddRange(results.Select(r => r.ErrorMessage ?? "invalid setting"));
        Try(problems, () => DatabaseTarget.Parse(options.DatabaseUrl, Directory.GetCurrentDirectory()));
        Try(problems, () => NodeAddresses.Parse(options.RouterIps));
        Try(problems, () =>
        {
            // Every member writes to one shared database and the sharding's remembered nodes live in its journal:
            // a SQLite file is one process's, so a cluster on it would split the data without saying so.
            if (options.Cluster is not null && DatabaseTarget.Parse(options.DatabaseUrl, Directory.GetCurrentDirectory()).Kind != DatabaseKind.PostgreSql)
                throw new ArgumentException(
                    "A cluster requires PostgreSQL: CLUSTER_HOSTNAME, CLUSTER_PORT or CLUSTER_SEEDS is set, but DATABASE_URL is SQLite " +
                    "(set DATABASE_URL=postgresql://user:pass@host:5432/db on every member, or unset the CLUSTER_* settings for one process)");
        });
        return problems;
    }

    /// <summary>Prints the problems to stderr; true when there were none.</summary>
    public static bool Passes(IConfiguration configuration)
    {
        var problems = Problems(configuration);
        foreach (var problem in problems) Console.Error.WriteLine($"Configuration error: {problem}");
        return problems.Count == 0;
    }

    private static void Try(List<string> problems, Action check)
    {
        try
        {
            check();
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            problems.Add(e.Message);
        }
    }
}
