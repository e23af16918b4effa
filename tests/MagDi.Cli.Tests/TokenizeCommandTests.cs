using System.Text.Json;

namespace MagDi.Cli.Tests;

[Collection(CliTestGroup.Name)]
public sealed class TokenizeCommandTests(CliFixture fixture)
{
    private const string Text = "Tom has 5 pens. He buys 3 more.";

    [Fact]
    public async Task Text_PrintsIdsSpaceSeparated_WithoutSpecialTokens()
    {
        var (code, output, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--text", Text);
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, err);
        Assert.Equal(string.Join(' ', fixture.Tokenizer.Encode(Text)), output.Trim());
        Assert.DoesNotContain(fixture.Tokenizer.Special.BosId!.Value.ToString(), output.Trim().Split(' ')[0..1]);
    }

    [Fact]
    public async Task TextJson_WithSpecialTokens_PrintsOneIdsLineStartingWithBos()
    {
        var (code, output, _) = await CliFixture.Run("tokenize", "--tokenizer", Path.Combine(fixture.ModelDirectory, "tokenizer.json"), "--text", Text, "--json", "--add-special-tokens");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        int[] ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(fixture.Tokenizer.Encode(Text, addSpecialTokens: true), ids);
        Assert.Equal(fixture.Tokenizer.Special.BosId, ids[0]);
    }

    [Fact]
    public async Task InOut_WritesOneIdsLinePerInputLine_InOrder()
    {
        string dir = fixture.NewDirectory("tokenize");
        string[] texts = ["Tom has 5 pens.", "", "Ünïcödé 😀 and\ttabs\n", "He buys 3 more."];
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllLinesAsync(input, texts.Select(t => JsonSerializer.Serialize(new { text = t, id = 1 })));
        string outPath = Path.Combine(dir, "out.jsonl");

        var (code, output, _) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", outPath);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, output);
        string[] lines = await File.ReadAllLinesAsync(outPath);
        Assert.Equal(texts.Length, lines.Length);
        for (int i = 0; i < texts.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(fixture.Tokenizer.Encode(texts[i]), ids);
            Assert.Equal(texts[i], fixture.Tokenizer.Decode(ids));
        }
    }

    [Fact]
    public async Task In_BadLine_FailsWithFileAndLineAndLeavesNoOutput()
    {
        string dir = fixture.NewDirectory("tokenize-bad");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllLinesAsync(input, ["{\"text\": \"ok\"}", "{\"txt\": \"typo\"}"]);
        string outPath = Path.Combine(dir, "out.jsonl");

        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", outPath);

        Assert.Equal(2, code);
        Assert.Contains(input, err);
        Assert.Contains("line 2", err);
        Assert.Contains("\"text\"", err);
        Assert.False(File.Exists(outPath));
    }

    [Theory]
    [InlineData("--text", "a", "--in", "x.jsonl")]
    [InlineData("--json")]
    public async Task TextAndInTogetherOrNeither_IsBadInput(params string[] extra)
    {
        var (code, _, err) = await CliFixture.Run(["tokenize", "--tokenizer", fixture.ModelDirectory, .. extra]);
        Assert.Equal(2, code);
        Assert.Contains("exactly one of --text and --in", err);
    }

    [Fact]
    public async Task MissingTokenizer_IsBadInput()
    {
        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", Path.Combine(fixture.Root, "nope"), "--text", "a");
        Assert.Equal(2, code);
        Assert.Contains("nope", err);
    }
}
