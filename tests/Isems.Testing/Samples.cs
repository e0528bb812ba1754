namespace Isems.Testing;

/// <summary>The sample node data (tests/Isems.Testing/Samples, copied to every referencing test project's output).</summary>
public static class Samples
{
    public static string Folder { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "Samples");

    /// <summary>The absolute path of a sample file; throws if it was not copied to the test output.</summary>
    public static string Path(string fileName)
    {
        var path = System.IO.Path.Combine(Folder, fileName);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"The sample '{fileName}' is not in {Folder}. Samples come from tests/Isems.Testing/Samples; " +
                "the test project must reference tests/Isems.Testing/Isems.Testing.csproj.", path);
        return path;
    }

    /// <summary>The whole file as text (UTF-8), line ends as they are.</summary>
    public static string Read(string fileName) => File.ReadAllText(Path(fileName));

    /// <summary>The file's non-empty lines, without their line ends.</summary>
    public static IReadOnlyList<string> Lines(string fileName) =>
        File.ReadAllLines(Path(fileName)).Where(line => line.Length > 0).ToArray();
}
