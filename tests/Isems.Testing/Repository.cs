namespace Isems.Testing;

/// <summary>The repository the tests run from, for tests of its deployment files.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Isems.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Isems.Actors.sln above {AppContext.BaseDirectory}");
    }
}
