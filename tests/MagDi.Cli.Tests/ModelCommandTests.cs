using System.Text.Json;
using MagDi.Generation;
using MagDi.Modeling;

namespace MagDi.Cli.Tests;

[Collection(CliTestGroup.Name)]
public sealed class ModelCommandTests(CliFixture fixture)
{
    [Fact]
    public async Task Generate_Greedy_PrintsTheLibrarysContinuationAndCountsTokens()
    {
        const string Prompt = "Tom has 5 pens.";
        var (code, output, err) = await CliFixture.Run("generate", "--model", fixture.ModelDirectory, "--prompt", Prompt, "--max-new-tokens", "6", "--dtype", "f32");

        Assert.Equal(0, code);
        using var model = CausalLanguageModel.FromPretrained(fixture.ModelDirectory, new ModelLoadOptions { DType = TorchSharp.torch.ScalarType.Float32 });
        var expected = new TextGenerator(model).Generate([fixture.Tokenizer.Encode(Prompt, addSpecialTokens: true)], new GenerationOptions { MaxNewTokens = 6 });
        Assert.Equal(fixture.Tokenizer.Decode(expected.Tokens[0], skipSpecialTokens: true), output.TrimEnd('\n', '\r'));
        Assert.Contains($"{expected.GeneratedTokenCount} token(s) generated", err);
    }

    [Fact]
    public async Task Generate_SampledWithSeed_IsReproducible()
    {
        string[] args = ["generate", "--model", fixture.ModelDirectory, "--prompt", "He buys", "--max-new-tokens", "5", "--temperature", "1.0", "--top-p", "0.9", "--top-k", "50", "--seed", "11"];
        var first = await CliFixture.Run(args);
        var second = await CliFixture.Run(args);
        Assert.Equal(0, first.Code);
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public async Task Generate_IdsInPaddedEmbeddingRows_AreLeftOutWithAWarning()
    {
        // A checkpoint whose embedding has 200 more rows than the tokenizer has ids, as padded HF checkpoints do.
        string dir = fixture.NewDirectory("padded");
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(fixture.ModelDirectory, file), Path.Combine(dir, file));
        }

        var config = ModelConfig.Load(Path.Combine(fixture.ModelDirectory, "config.json"));
        config.VocabSize = fixture.Tokenizer.VocabularySize + 200;
        using (var model = CausalLanguageModel.CreateRandom(config, seed: 3))
        {
            model.SavePretrained(dir);
        }

        var (code, output, err) = await CliFixture.Run("generate", "--model", dir, "--prompt", "Tom has", "--max-new-tokens", "20", "--temperature", "1", "--seed", "4", "--dtype", "f32");

        Assert.True(code == 0, err);
        Assert.Contains("beyond the tokenizer's", err);
        Assert.Contains("20 token(s) generated", err);
        Assert.False(string.IsNullOrEmpty(output));
    }

    [Fact]
    public async Task Generate_BadOptions_AreBadInput()
    {
        var (code, _, err) = await CliFixture.Run("generate", "--model", fixture.ModelDirectory, "--prompt", "x", "--top-p", "1.5");
        Assert.Equal(2, code);
        Assert.Contains("--top-p", err);

        (code, _, err) = await CliFixture.Run("generate", "--model", Path.Combine(fixture.Root, "missing"), "--prompt", "x");
        Assert.Equal(2, code);
        Assert.Contains("missing", err);

        if (!TorchSharp.torch.cuda.is_available())
        {
            (code, _, err) = await CliFixture.Run("generate", "--model", fixture.ModelDirectory, "--prompt", "x", "--device", "cuda");
            Assert.Equal(2, code);
            Assert.Contains("CUDA", err);
        }
    }

    [Fact]
    public async Task Score_Ids_Json_MatchesTokenScorerInFloat32()
    {
        var (code, output, _) = await CliFixture.Run("score", "--model", fixture.ModelDirectory, "--ids", "1,40,41,42,100", "--json");

        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        float[] values = doc.RootElement.GetProperty("token_logprobs").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var model = CausalLanguageModel.FromPretrained(fixture.ModelDirectory, new ModelLoadOptions { DType = TorchSharp.torch.ScalarType.Float32 });
        float[] expected = TokenScorer.TokenLogProbs(model, [1, 40, 41, 42, 100]);
        Assert.Equal(4, values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(expected[i], values[i], 5);
            Assert.True(values[i] < 0);
        }
    }

    [Fact]
    public async Task Score_Text_PrintsOneRowPerTokenAfterTheFirst()
    {
        const string Text = "Tom has 5 pens.";
        var (code, output, _) = await CliFixture.Run("score", "--model", fixture.ModelDirectory, "--text", Text);
        Assert.Equal(0, code);
        int count = fixture.Tokenizer.Encode(Text).Count - 1;
        Assert.Contains($"over {count} token(s)", output);

        (code, output, _) = await CliFixture.Run("score", "--model", fixture.ModelDirectory, "--text", Text, "--add-special-tokens", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(count + 1, doc.RootElement.GetProperty("token_logprobs").GetArrayLength());
    }

    [Theory]
    [InlineData("1,x,3", "item 2")]
    [InlineData("7", "at least two")]
    [InlineData("1,5000", "outside the model's vocabulary")]
    public async Task Score_BadIds_AreBadInput(string ids, string reason)
    {
        var (code, _, err) = await CliFixture.Run("score", "--model", fixture.ModelDirectory, "--ids", ids);
        Assert.Equal(2, code);
        Assert.Contains(reason, err);
    }
}
