using System.Collections.Concurrent;

namespace MagDi.Docs.Tests;

/// <summary>
/// The documentation this test compiles: README.md, docs/*.md, src/*/README.md and samples/*/README.md of the
/// repository the test was built from (found by walking up to MagDi.sln), split into units.
/// </summary>
internal sealed class DocsCorpus
{
    // Loaded once per test run and shared by every compilation (metadata references are immutable).
    private static readonly Lazy<SnippetCompiler> SharedCompiler = new(() => new SnippetCompiler(SnippetCompiler.LoadReferences(), SnippetVariables.Types));
    private static readonly Lazy<DocsCorpus> SharedInstance = new(() => new DocsCorpus(FindRepositoryRoot()));

    private readonly ConcurrentDictionary<string, Lazy<SnippetCompilation>> _results = new(StringComparer.Ordinal);

    private DocsCorpus(string root)
    {
        Root = root;
        var problems = new List<string>();
        var blocks = new List<SnippetBlock>();
        var units = new List<SnippetUnit>();
        foreach (var file in DocumentationFiles(root))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            var fileBlocks = MarkdownSnippets.Extract(relative, File.ReadAllText(file), problems);
            blocks.AddRange(fileBlocks);
            units.AddRange(MarkdownSnippets.ToUnits(fileBlocks, problems));
        }

        Blocks = blocks;
        Units = units;
        Problems = problems;
    }

    public static DocsCorpus Instance => SharedInstance.Value;

    public static SnippetCompiler Compiler => SharedCompiler.Value;

    public string Root { get; }

    public IReadOnlyList<SnippetBlock> Blocks { get; }

    public IReadOnlyList<SnippetUnit> Units { get; }

    /// <summary>Malformed, unknown or misplaced snippet markers.</summary>
    public IReadOnlyList<string> Problems { get; }

    public SnippetCompilation Compile(string unitId) =>
        _results.GetOrAdd(unitId, id => new Lazy<SnippetCompilation>(() => Compiler.Compile(Units.Single(u => u.Id == id)))).Value;

    private static IEnumerable<string> DocumentationFiles(string root)
    {
        yield return Path.Combine(root, "README.md");
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            yield return file;
        }

        foreach (var folder in new[] { "src", "samples" })
        {
            foreach (var project in Directory.EnumerateDirectories(Path.Combine(root, folder)).Order(StringComparer.Ordinal))
            {
                var readme = Path.Combine(project, "README.md");
                if (File.Exists(readme))
                {
                    yield return readme;
                }
            }
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MagDi.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No MagDi.sln above {AppContext.BaseDirectory}: the docs test runs from the repository's build output.");
    }
}
