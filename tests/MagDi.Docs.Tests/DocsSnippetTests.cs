namespace MagDi.Docs.Tests;

/// <summary>
/// Every ```csharp block of the documentation compiles against the current packages (issue 16). A block that is
/// deliberately not C# (pseudo-code) says so with <c>&lt;!-- snippet: not compiled (reason) --&gt;</c> on the line
/// before its fence; a block that goes on from the previous one says <c>&lt;!-- snippet: continues the previous block --&gt;</c>.
/// </summary>
public sealed class DocsSnippetTests
{
    public static TheoryData<string> Units => new(DocsCorpus.Instance.Units.Select(u => u.Id));

    [Theory]
    [MemberData(nameof(Units))]
    public void Snippet_CompilesAgainstThePackages(string unit)
    {
        var result = DocsCorpus.Instance.Compile(unit);

        Assert.True(result.Errors.Count == 0,
            $"The documentation snippet at {unit} does not compile without warnings against the MagDi packages; fix the snippet in the same "
            + $"change as the API (or opt it out with a reason):\n{string.Join('\n', result.Errors)}");
    }

    [Fact]
    public void SnippetMarkers_AreWellFormed()
    {
        Assert.True(DocsCorpus.Instance.Problems.Count == 0, string.Join('\n', DocsCorpus.Instance.Problems));
    }

    [Fact]
    public void Corpus_HoldsTheDocumentedSnippets()
    {
        var corpus = DocsCorpus.Instance;

        // Guards the extractor: the walkthrough's three steps and the other guides' blocks are found and compiled.
        Assert.Equal(3, corpus.Blocks.Count(b => b.File == "docs/walkthrough.md" && b.NotCompiledReason is null));
        Assert.Contains(corpus.Units, u => u.Blocks[0].File == "docs/training.md");
        Assert.Contains(corpus.Units, u => u.Blocks[0].File == "src/MagDi.Graphs/README.md");
        Assert.True(corpus.Blocks.Count >= 20, $"only {corpus.Blocks.Count} ```csharp blocks found under {corpus.Root}");
        var optedOut = corpus.Blocks.Where(b => b.NotCompiledReason is not null).ToList();
        // Opting out is for blocks that are not meant to be C# (today: the trainer-loop outline in training.md). More
        // than two means snippets are being opted out instead of fixed; raise the bound only deliberately.
        Assert.True(optedOut.Count <= 2, "more than two blocks opted out: " + string.Join(", ", optedOut.Select(b => b.Location)));
    }

    [Fact]
    public void EverySnippetVariable_IsUsedByASnippet()
    {
        var corpus = DocsCorpus.Instance;
        var used = corpus.Units.SelectMany(u => corpus.Compile(u.Id).FreeNames).ToHashSet(StringComparer.Ordinal);

        Assert.Empty(SnippetVariables.Types.Keys.Where(name => !used.Contains(name)).Order(StringComparer.Ordinal));
    }
}
