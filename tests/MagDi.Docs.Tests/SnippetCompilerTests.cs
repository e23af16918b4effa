namespace MagDi.Docs.Tests;

/// <summary>The docs test can fail: broken snippets, unknown names and malformed markers are reported with file and line.</summary>
public sealed class SnippetCompilerTests
{
    private static (IReadOnlyList<SnippetUnit> Units, List<string> Problems) Parse(string markdown)
    {
        var problems = new List<string>();
        var blocks = MarkdownSnippets.Extract("docs/example.md", markdown, problems);
        return (MarkdownSnippets.ToUnits(blocks, problems), problems);
    }

    private static SnippetCompilation CompileSingle(string markdown)
    {
        var (units, problems) = Parse(markdown);
        Assert.Empty(problems);
        return DocsCorpus.Compiler.Compile(Assert.Single(units));
    }

    [Fact]
    public void ASnippetAgainstTheCurrentApi_Compiles()
    {
        var result = CompileSingle("""
            Text.

            ```csharp
            using MagDi.Graphs.IO;

            var mags = await MagFile.ReadAsync("mags.jsonl", cancellationToken: cancellationToken);
            Console.WriteLine(mags.Graphs.Count);
            ```
            """);

        Assert.Empty(result.Errors);
        Assert.Equal(["cancellationToken"], result.FreeNames);
    }

    [Fact]
    public void ACallToAMissingMember_FailsWithTheMarkdownLine()
    {
        var result = CompileSingle("""
            Text.

            ```csharp
            using MagDi.Graphs.IO;

            var mags = await MagFile.ReadAllAsync("mags.jsonl");
            ```
            """);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("docs/example.md:6: error CS0117:", error, StringComparison.Ordinal);
        Assert.Contains("ReadAllAsync", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingUsingDirective_FailsNamingTheType()
    {
        var result = CompileSingle("""
            ```csharp
            var mags = await MagFile.ReadAsync("mags.jsonl");
            ```
            """);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("docs/example.md:2: the snippet uses 'MagFile'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AFreeNameNotInTheTable_Fails()
    {
        var result = CompileSingle("""
            ```csharp
            using MagDi.Training;

            var evaluator = new MagDiEvaluator(model, myTokenizer);
            ```
            """);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("docs/example.md:4: the snippet uses 'myTokenizer'", error, StringComparison.Ordinal);
        Assert.Equal(["model"], result.FreeNames);
    }

    [Fact]
    public void ATableVariableOfTheWrongType_Fails()
    {
        var result = CompileSingle("""
            ```csharp
            string name = cancellationToken;
            ```
            """);

        Assert.StartsWith("docs/example.md:2: error CS0029:", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void AWarning_FailsToo()
    {
        var result = CompileSingle("""
            ```csharp
            string? home = Environment.GetEnvironmentVariable("HOME");
            Console.WriteLine(home.Length);
            ```
            """);

        Assert.StartsWith("docs/example.md:3: warning CS8602:", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void ABlock_ContinuesThePreviousOneOnlyWhenMarked()
    {
        const string First = """
            ```csharp
            using MagDi.Graphs.IO;

            var mags = await MagFile.ReadAsync("mags.jsonl");
            ```

            """;
        const string Second = """
            ```csharp
            var again = await MagFile.ReadAsync("more.jsonl");
            Console.WriteLine(mags.Graphs.Count + again.Graphs.Count);
            ```
            """;

        var (continued, problems) = Parse(First + "<!-- snippet: continues the previous block -->\n" + Second);
        Assert.Empty(problems);
        Assert.Empty(DocsCorpus.Compiler.Compile(Assert.Single(continued)).Errors);

        var (separate, _) = Parse(First + Second);
        Assert.Equal(2, separate.Count);
        Assert.Contains(DocsCorpus.Compiler.Compile(separate[1]).Errors, e => e.StartsWith("docs/example.md:7: the snippet uses 'MagFile'", StringComparison.Ordinal));
    }

    [Fact]
    public void AnOptedOutBlock_IsNotCompiled_AndNeedsAReason()
    {
        var (units, problems) = Parse("""
            <!-- snippet: not compiled (pseudo-code) -->
            ```csharp
            this is not C#
            ```
            """);
        Assert.Empty(units);
        Assert.Empty(problems);

        (_, problems) = Parse("""
            <!-- snippet: not compiled () -->
            ```csharp
            this is not C#
            ```
            """);
        Assert.StartsWith("docs/example.md:1: 'not compiled' needs a reason", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<!-- snippet: not compield (typo) -->\n```csharp\nvar x = 1;\n```\n", "docs/example.md:1: unknown snippet marker")]
    [InlineData("<!-- snippet: not compiled (bash) -->\n```bash\nls\n```\n", "docs/example.md:1: snippet marker is not followed by a ```csharp block")]
    [InlineData("<!-- snippet: not compiled (gone) -->\nSome prose.\n```csharp\nvar x = 1;\n```\n", "docs/example.md:1: snippet marker is not followed by a ```csharp block")]
    [InlineData("<!-- snippet: continues the previous block -->\n```csharp\nvar x = 1;\n```\n", "docs/example.md:2: 'continues the previous block' but")]
    [InlineData("<!-- snippet not compiled (no colon) -->\n```csharp\nvar x = 1;\n```\n", "docs/example.md:1: malformed snippet marker")]
    public void AMalformedMarker_IsAProblem(string markdown, string expected)
    {
        var (_, problems) = Parse(markdown);

        Assert.StartsWith(expected, Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void BlocksInOtherLanguagesOrInsideOtherFences_AreNotCompiled()
    {
        var (units, problems) = Parse("""
            ````markdown
            ```csharp
            not compiled: inside a markdown example
            ```
            ````

            ```bash
            dotnet test
            ```

              ```cs
              var indented = 1;
              ```
            """);

        Assert.Empty(problems);
        var unit = Assert.Single(units);
        Assert.Equal("docs/example.md:11", unit.Id);
        Assert.Equal(["var indented = 1;"], unit.Blocks[0].Lines);
    }
}
