using MagDi.Core.Tests.Modeling;
using MagDi.Generation;
using MagDi.Modeling;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Generation;

public sealed class TextGeneratorTests
{
    private static int[] Prompt(long vocab, int length, long seed) => TestCheckpoints.Ids(vocab, 1, length, seed)[0].data<long>().Select(x => (int)x).ToArray();

    /// <summary>Greedy decoding by hand: full forward each step, argmax of the last position.</summary>
    private static List<int> NaiveGreedy(CausalLanguageModel model, IReadOnlyList<int> prompt, int steps)
    {
        using var noGrad = no_grad();
        var seq = prompt.ToList();
        var output = new List<int>();
        for (int i = 0; i < steps; i++)
        {
            using Tensor ids = tensor(seq.Select(x => (long)x).ToArray()).unsqueeze(0);
            int next = (int)model.call(new CausalLMInput(ids)).Logits[0, -1].argmax().item<long>();
            seq.Add(next);
            output.Add(next);
        }

        return output;
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]
    [InlineData("qwen2")]
    public void GreedyBatchedCachedGeneration_EqualsNaiveSingleRowDecoding(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        int[][] prompts = [Prompt(model.Config.VocabSize, 3, 1), Prompt(model.Config.VocabSize, 7, 2), Prompt(model.Config.VocabSize, 5, 3)];
        var options = new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [], PadTokenId = 0 };
        GenerationResult cached = new TextGenerator(model).Generate(prompts, options);
        options.UseCache = false;
        GenerationResult uncached = new TextGenerator(model).Generate(prompts, options);
        for (int b = 0; b < prompts.Length; b++)
        {
            Assert.Equal(NaiveGreedy(model, prompts[b], 8), cached.Tokens[b]);
            Assert.Equal(cached.Tokens[b], uncached.Tokens[b]);
            Assert.Equal(FinishReason.Length, cached.FinishReasons[b]);
        }

        Assert.Equal(24, cached.GeneratedTokenCount);
    }

    [Fact]
    public void Generation_StopsOnEosStopSequenceAndCondition()
    {
        using var model = TestCheckpoints.Model("llama");
        int[] prompt = Prompt(model.Config.VocabSize, 4, 5);
        List<int> free = NaiveGreedy(model, prompt, 6);
        var generator = new TextGenerator(model);

        var eos = generator.Generate([prompt], new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [free[2]] });
        int firstEos = free.IndexOf(free[2]);
        Assert.Equal(free.Take(firstEos), eos.Tokens[0]);
        Assert.Equal(FinishReason.EndOfSequence, eos.FinishReasons[0]);
        Assert.Equal(firstEos + 1, eos.GeneratedTokenCount);

        var stop = generator.Generate([prompt], new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [], StopTokenSequences = [[free[3], free[4]]] });
        Assert.Equal(FinishReason.StopSequence, stop.FinishReasons[0]);
        Assert.True(stop.Tokens[0].Count <= 3);

        var condition = generator.Generate([prompt], new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [], StopCondition = ids => ids.Count == 2 });
        Assert.Equal(free.Take(2), condition.Tokens[0]);
        Assert.Equal(FinishReason.StopCondition, condition.FinishReasons[0]);
    }

    [Fact]
    public void Sampling_IsReproducibleWithASeed_AndRespectsTopK()
    {
        using var model = TestCheckpoints.Model("qwen2");
        int[] prompt = Prompt(model.Config.VocabSize, 4, 6);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 10, Temperature = 1.5, TopP = 0.9, Seed = 42, EosTokenIds = [] };
        var a = generator.Generate([prompt, prompt], options);
        var b = generator.Generate([prompt, prompt], options);
        Assert.Equal(a.Tokens, b.Tokens);
        options.Seed = 43;
        var c = generator.Generate([prompt, prompt], options);
        Assert.NotEqual(a.Tokens, c.Tokens);

        var topOne = generator.Generate([prompt], new GenerationOptions { MaxNewTokens = 6, Temperature = 2.0, TopK = 1, Seed = 1, EosTokenIds = [] });
        Assert.Equal(NaiveGreedy(model, prompt, 6), topOne.Tokens[0]);
        var tinyP = generator.Generate([prompt], new GenerationOptions { MaxNewTokens = 6, Temperature = 2.0, TopP = 1e-6, Seed = 1, EosTokenIds = [] });
        Assert.Equal(NaiveGreedy(model, prompt, 6), tinyP.Tokens[0]);
    }

    [Fact]
    public void Options_AreValidated()
    {
        var error = Assert.Throws<OptionsValidationException>(() => new GenerationOptions { MaxNewTokens = 0, Temperature = -1, TopP = 0, TopK = -2, StopTokenSequences = [[]] }.Validate());
        foreach (string field in new[] { "MaxNewTokens", "Temperature", "TopP", "TopK", "StopTokenSequences" })
        {
            Assert.Contains(field, error.Message);
        }

        Assert.Equal(5, error.Failures.Count());

        using var model = TestCheckpoints.Model("llama");
        Assert.Throws<ArgumentException>(() => new TextGenerator(model).Generate([Array.Empty<int>()], new GenerationOptions()));
        Assert.Throws<ArgumentException>(() => new TextGenerator(model).Generate([[1, 2]], new GenerationOptions { MaxNewTokens = 1000 }));
    }

    [Fact]
    public void MaxNewTokensNearIntMax_IsAClearRangeError_NotAnOverflow()
    {
        using var model = TestCheckpoints.Model("llama");
        var error = Assert.Throws<ArgumentException>(() => new TextGenerator(model).Generate([[1, 2]], new GenerationOptions { MaxNewTokens = int.MaxValue }));
        Assert.Contains($"MaxNewTokens {int.MaxValue} exceeds max_position_embeddings {model.Config.MaxPositionEmbeddings}", error.Message);
        Assert.Contains($"at most {model.Config.MaxPositionEmbeddings - 2} new tokens", error.Message);
    }

    /// <summary>Fills one weight of a fresh model with <paramref name="value"/> and returns its state-dict key.</summary>
    private static string Poison(CausalLanguageModel model, string keyPart, float value)
    {
        string key = model.state_dict().Keys.First(k => k.Contains(keyPart, StringComparison.Ordinal));
        using (no_grad())
        {
            model.state_dict()[key].fill_(value);
        }

        return key;
    }

    [Theory]
    [InlineData(float.NaN, false)]
    [InlineData(float.NaN, true)]
    [InlineData(float.PositiveInfinity, false)]
    public void Generate_NonFiniteWeights_ThrowsNamingTheStepAndTheWeight(float value, bool sampling)
    {
        using var model = TestCheckpoints.Model("llama");
        string key = Poison(model, "layers.1.mlp.down_proj.weight", value);
        var options = new GenerationOptions { MaxNewTokens = 4, EosTokenIds = [], Temperature = sampling ? 1.0 : 0.0, Seed = 3 };

        var error = Assert.Throws<NonFiniteException>(() => new TextGenerator(model).Generate([[1, 2, 3], [4, 5]], options));

        Assert.Equal(0, error.Step);
        Assert.Equal("logits", error.TensorName);
        Assert.Contains(key, error.NonFiniteWeights);
        Assert.Contains("generation step 0", error.Message);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void Generate_FiniteWeights_NeverTripTheCheck_AnInfiniteOutputHeadRowDoes()
    {
        using var model = TestCheckpoints.Model("llama");
        var options = new GenerationOptions { MaxNewTokens = 3, EosTokenIds = [] };
        Assert.Equal(3, new TextGenerator(model).Generate([[1, 2, 3]], options).Tokens[0].Count);

        // One row of the output head at +inf: one logit of each step is infinite (or NaN), every other one finite.
        const string Head = "lm_head.weight";
        using (no_grad())
        {
            model.state_dict()[Head][7].fill_(float.PositiveInfinity);
        }

        var error = Assert.Throws<NonFiniteException>(() => new TextGenerator(model).Generate([[1, 2, 3]], options));
        Assert.Contains(Head, error.NonFiniteWeights);
    }

    [Fact]
    public void TokenLogProbs_NonFiniteWeights_ThrowInsteadOfReturningNaN()
    {
        using var model = TestCheckpoints.Model("llama");
        string key = Poison(model, "layers.0.mlp.down_proj.weight", float.NaN);

        var error = Assert.Throws<NonFiniteException>(() => TokenScorer.TokenLogProbs(model, [1, 2, 3]));

        Assert.Contains("position 0", error.Message);
        Assert.Contains(key, error.NonFiniteWeights);
    }

    [Fact]
    public void TokenLogProbs_MatchLogSoftmaxOfTheLogits_BatchedEqualsSingle()
    {
        using var model = TestCheckpoints.Model("mistral", dtype: ScalarType.BFloat16);
        int[] ids = Prompt(model.Config.VocabSize, 7, 9);
        float[] scores = TokenScorer.TokenLogProbs(model, ids);
        Assert.Equal(6, scores.Length);
        using (no_grad())
        {
            Tensor logits = model.call(new CausalLMInput(tensor(ids.Select(x => (long)x).ToArray()).unsqueeze(0))).Logits[0].to_type(ScalarType.Float32);
            Tensor lp = logits.log_softmax(-1);
            for (int i = 1; i < ids.Length; i++)
            {
                Assert.Equal(lp[i - 1, ids[i]].item<float>(), scores[i - 1], 5);
            }
        }

        Assert.All(scores, s => Assert.True(s < 0));
        var batched = TokenScorer.TokenLogProbs(model, [ids.Take(3).ToArray(), ids]);
        Assert.Equal(scores, batched[1]);
        Assert.Equal(2, batched[0].Length);
        Assert.Throws<ArgumentException>(() => TokenScorer.TokenLogProbs(model, [5]));
        Assert.Contains("position 1", Assert.Throws<ArgumentException>(() => TokenScorer.TokenLogProbs(model, [5, 9999])).Message);
    }

    [Fact]
    public void SelfConsistency_VotesByMajorityWithEarliestTieBreak()
    {
        string? Extract(string? text) => text is null || text.Length == 0 ? null : text[..1];
        var result = SelfConsistency.Vote(["b1", "a2", "a3", "", "b4"], Extract);
        Assert.Equal("b", result.Answer);
        Assert.Equal(2, result.Votes["a"]);
        Assert.Null(result.Answers[3]);
        Assert.Null(SelfConsistency.Vote(["", ""], Extract).Answer);

        using var model = TestCheckpoints.Model("llama");
        var generator = new TextGenerator(model);
        int[] prompt = Prompt(model.Config.VocabSize, 4, 10);
        var options = new GenerationOptions { MaxNewTokens = 3, Temperature = 1.0, Seed = 3, EosTokenIds = [] };
        var voted = SelfConsistency.Generate(generator, prompt, 5, options, ids => string.Join(",", ids), text => text?.Split(',')[0]);
        Assert.Equal(5, voted.Samples.Count);
        Assert.Equal(5, voted.Votes.Values.Sum());
        Assert.Equal(voted.Votes.MaxBy(kv => kv.Value).Value, voted.Votes[voted.Answer!]);
        Assert.Throws<ArgumentException>(() => SelfConsistency.Generate(generator, prompt, 3, new GenerationOptions(), ids => "", t => t));
    }
}
