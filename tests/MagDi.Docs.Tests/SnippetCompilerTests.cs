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
    public void A_snippet_against_the_current_api_compiles()
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
    public void A_call_to_a_member_that_does_not_exist_fails_with_the_markdown_line()
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
    public void A_missing_using_directive_fails_naming_the_type()
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
    public void A_free_name_that_is_not_in_the_table_fails()
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
    public void A_table_variable_of_the_wrong_type_fails()
    {
        var result = CompileSingle("""
            ```csharp
            string name = cancellationToken;
            ```
            """);

        Assert.StartsWith("docs/example.md:2: error CS0029:", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_warning_fails_too()
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
    public void A_block_continues_the_previous_one_only_when_marked()
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
    public void An_opted_out_block_is_not_compiled_and_needs_a_reason()
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
    public void A_malformed_marker_is_a_problem(string markdown, string expected)
    {
        var (_, problems) = Parse(markdown);

        Assert.StartsWith(expected, Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Blocks_in_other_languages_and_inside_other_fences_are_not_compiled()
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
