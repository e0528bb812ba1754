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
