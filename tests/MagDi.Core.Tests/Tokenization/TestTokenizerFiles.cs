using System.Text.Json;

using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

/// <summary>
/// Locates the real test vocabularies: the committed archives under &lt;repo&gt;/tests/TestData/tokenizers, unpacked
/// once per test run next to the test assembly (<see cref="TokenizerTestData"/>).
/// </summary>
internal static class TestTokenizerFiles
{
    private static readonly Lazy<string> s_root = new(EnsureUnpacked, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string RepoRoot { get; } = Machine.RepositoryRoot();

    public static string Folder(string family) => Path.Combine(s_root.Value, family);

    public static string ExpectedFile(string family) =>
        Path.Combine(RepoRoot, "tests", "MagDi.Core.Tests", "Tokenization", "Expected", family + ".json");

    public static IEnumerable<(string Text, int[] Ids, int[]? IdsWithSpecial)> ExpectedCases(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(ExpectedFile(family)));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            int[]? withSpecial = c.TryGetProperty("ids_with_special", out var w) ? [.. w.EnumerateArray().Select(e => e.GetInt32())] : null;
            yield return (c.GetProperty("text").GetString()!, ids, withSpecial);
        }
    }

    private static string EnsureUnpacked() =>
        TokenizerTestData.EnsureUnpacked(RepoRoot, Path.Combine(AppContext.BaseDirectory, "test-tokenizers"));
}

/// <summary>Loads each real tokenizer once per test run (they take a moment to build).</summary>
internal static class RealTokenizers
{
    private static readonly Lazy<ITextTokenizer> s_mistral = new(() => TokenizerLoader.Load(TestTokenizerFiles.Folder("mistral")));
    private static readonly Lazy<ITextTokenizer> s_qwen3 = new(() => TokenizerLoader.Load(TestTokenizerFiles.Folder("qwen3")));
    private static readonly Lazy<ITextTokenizer> s_gpt2 = new(() => TokenizerLoader.Load(TestTokenizerFiles.Folder("gpt2")));

    private static readonly Lazy<ITextTokenizer> s_qwen3Llama3Regex = new(LoadQwen3WithLlama3Regex);

    /// <summary>Llama-3's pre-tokenizer regex (as in its tokenizer.json).</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static ITextTokenizer Get(string family) => family switch
    {
        "mistral" => s_mistral.Value,
        "qwen3" => s_qwen3.Value,
        "gpt2" => s_gpt2.Value,
        "qwen3-llama3-regex" => s_qwen3Llama3Regex.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    // Qwen's vocabulary with Llama-3's pre-tokenizer regex and ignore_merges, as eng/tokenizer-reference does.
    private static ITextTokenizer LoadQwen3WithLlama3Regex()
    {
        string folder = TestTokenizerFiles.Folder("qwen3");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "tokenizer.json")))!;
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = Llama3Pattern;
        json["model"]!["ignore_merges"] = true;
        string dir = Path.Combine(Path.GetTempPath(), "magdi-qwen3-llama3-regex-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        File.Copy(Path.Combine(folder, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"), overwrite: true);
        return TokenizerLoader.Load(dir);
    }
}
