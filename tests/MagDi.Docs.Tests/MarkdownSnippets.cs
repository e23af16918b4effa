using System.Text.RegularExpressions;

namespace MagDi.Docs.Tests;

/// <summary>One ```csharp block of a Markdown file.</summary>
/// <param name="File">The file, relative to the repository root, with '/' separators.</param>
/// <param name="FenceLine">The 1-based line of the opening fence.</param>
/// <param name="Lines">The block's lines, without the fences and without the fence's indentation.</param>
/// <param name="NotCompiledReason">Set when a <c>&lt;!-- snippet: not compiled (reason) --&gt;</c> marker opts the block out.</param>
/// <param name="ContinuesPrevious">Set by <c>&lt;!-- snippet: continues the previous block --&gt;</c>: the block is
/// compiled after the previous compiled block of the same file, with its usings and declarations.</param>
internal sealed record SnippetBlock(string File, int FenceLine, IReadOnlyList<string> Lines, string? NotCompiledReason,
    bool ContinuesPrevious)
{
    /// <summary>The 1-based line of the block's first line of code.</summary>
    public int FirstLine => FenceLine + 1;

    public string Location => $"{File}:{FenceLine}";
}

/// <summary>Blocks compiled together: one block, or a block and the blocks that continue it.</summary>
internal sealed record SnippetUnit(IReadOnlyList<SnippetBlock> Blocks)
{
    public string Id => Blocks[0].Location;
}

/// <summary>
/// Finds the fenced C# blocks of Markdown text and the <c>&lt;!-- snippet: ... --&gt;</c> markers on the line before a
/// fence. A marker that is malformed, unknown or not followed by a C# fence is an error, so a typo cannot silently
/// leave a block uncompiled.
/// </summary>
internal static partial class MarkdownSnippets
{
    public const string NotCompiledDirective = "not compiled";
    public const string ContinuesDirective = "continues the previous block";

    [GeneratedRegex(@"^<!--\s*snippet:(?<body>.*?)-->\s*$")]
    private static partial Regex MarkerPattern();

    [GeneratedRegex(@"^not compiled\s*\((?<reason>.*)\)$")]
    private static partial Regex NotCompiledPattern();

    [GeneratedRegex(@"^(?<indent>\s*)(?<fence>`{3,}|~{3,})\s*(?<info>[^`]*)$")]
    private static partial Regex FencePattern();

    private static readonly HashSet<string> CSharpLanguages = new(StringComparer.OrdinalIgnoreCase) { "csharp", "cs", "c#" };

    /// <summary>Extracts the C# blocks of one file; <paramref name="problems"/> receives every malformed marker.</summary>
    public static IReadOnlyList<SnippetBlock> Extract(string file, string markdown, ICollection<string> problems)
    {
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var blocks = new List<SnippetBlock>();
        (string Body, int Line)? pendingMarker = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.Trim();
            var marker = MarkerPattern().Match(trimmed);
            if (marker.Success)
            {
                if (pendingMarker is { } earlier)
                {
                    problems.Add($"{file}:{earlier.Line}: snippet marker is not followed by a ```csharp block");
                }

                pendingMarker = (marker.Groups["body"].Value.Trim(), i + 1);
                continue;
            }

            if (trimmed.StartsWith("<!--", StringComparison.Ordinal) && trimmed.Contains("snippet", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"{file}:{i + 1}: malformed snippet marker '{trimmed}' (expected <!-- snippet: ... --> on one line)");
            }

            var fence = FencePattern().Match(line);
            if (!fence.Success)
            {
                if (trimmed.Length > 0 && pendingMarker is { } stale)
                {
                    problems.Add($"{file}:{stale.Line}: snippet marker is not followed by a ```csharp block");
                    pendingMarker = null;
                }

                continue;
            }

            // A fenced block: find its end (a fence of the same character, at least as long, with no info string).
            var indent = fence.Groups["indent"].Value.Length;
            var fenceText = fence.Groups["fence"].Value;
            var language = fence.Groups["info"].Value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
            var end = i + 1;
            while (end < lines.Length && !IsClosingFence(lines[end], fenceText))
            {
                end++;
            }

            if (end == lines.Length)
            {
                problems.Add($"{file}:{i + 1}: code fence is never closed");
            }

            var content = lines[(i + 1)..Math.Min(end, lines.Length)].Select(l => Unindent(l, indent)).ToArray();
            var isCSharp = CSharpLanguages.Contains(language);
            string? reason = null;
            var continues = false;
            if (pendingMarker is { } m)
            {
                if (!isCSharp)
                {
                    problems.Add($"{file}:{m.Line}: snippet marker is not followed by a ```csharp block");
                }
                else if (m.Body == ContinuesDirective)
                {
                    continues = true;
                }
                else if (NotCompiledPattern().Match(m.Body) is { Success: true } notCompiled)
                {
                    reason = notCompiled.Groups["reason"].Value.Trim();
                    if (reason.Length == 0)
                    {
                        problems.Add($"{file}:{m.Line}: '{NotCompiledDirective}' needs a reason: <!-- snippet: {NotCompiledDirective} (why) -->");
                    }
                }
                else
                {
                    problems.Add($"{file}:{m.Line}: unknown snippet marker '{m.Body}' (expected '{NotCompiledDirective} (reason)' or '{ContinuesDirective}')");
                }

                pendingMarker = null;
            }

            if (isCSharp)
            {
                blocks.Add(new SnippetBlock(file, i + 1, content, reason, continues));
            }

            i = end;
        }

        if (pendingMarker is { } last)
        {
            problems.Add($"{file}:{last.Line}: snippet marker is not followed by a ```csharp block");
        }

        return blocks;
    }

    /// <summary>Groups the compiled blocks of one file into units: a block that continues the previous one joins its unit.</summary>
    public static IReadOnlyList<SnippetUnit> ToUnits(IReadOnlyList<SnippetBlock> blocks, ICollection<string> problems)
    {
        var units = new List<List<SnippetBlock>>();
        SnippetBlock? previous = null;
        foreach (var block in blocks)
        {
            if (block.ContinuesPrevious)
            {
                if (previous is null || previous.NotCompiledReason is not null || previous.File != block.File)
                {
                    problems.Add($"{block.Location}: '{ContinuesDirective}' but the previous ```csharp block of the file is missing or not compiled");
                }
                else
                {
                    units[^1].Add(block);
                }
            }
            else if (block.NotCompiledReason is null)
            {
                units.Add([block]);
            }

            previous = block;
        }

        return units.Select(u => new SnippetUnit(u)).ToList();
    }

    private static bool IsClosingFence(string line, string openingFence)
    {
        var trimmed = line.Trim();
        return trimmed.Length >= openingFence.Length && trimmed.All(c => c == openingFence[0]);
    }

    private static string Unindent(string line, int indent)
    {
        var spaces = 0;
        while (spaces < indent && spaces < line.Length && line[spaces] == ' ')
        {
            spaces++;
        }

        return line[spaces..];
    }
}
