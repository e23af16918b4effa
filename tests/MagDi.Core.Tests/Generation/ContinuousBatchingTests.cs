using MagDi.Core.Tests.Modeling;
using MagDi.Generation;
using MagDi.Modeling;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Generation;

public sealed class ContinuousBatchingTests
{
    private static int[] Prompt(long vocab, int length, long seed) => TestCheckpoints.Ids(vocab, 1, length, seed)[0].data<long>().Select(x => (int)x).ToArray();

    private static int[][] Prompts(CausalLanguageModel model, params int[] lengths) =>
        [.. lengths.Select((length, i) => Prompt(model.Config.VocabSize, length, 100 + i))];

    [Theory]
    [InlineData("llama", 1)]
    [InlineData("llama", 3)]
    [InlineData("mistral", 2)] // sliding window 5: the window follows each row's own positions
    [InlineData("qwen2", 4)]
    public void Greedy_EqualsDecodingEachRequestAlone_WithDifferentPromptLengthsAndEarlyEos(string modelType, int maxBatchSize)
    {
        using var model = TestCheckpoints.Model(modelType);
        var generator = new TextGenerator(model);
        int[][] prompts = Prompts(model, 3, 9, 5, 1, 12, 7, 2, 6);
        // An EOS id that some rows produce early and others never: rows finish at different steps and free their slots.
        var free = prompts.Select(p => generator.Generate([p], new GenerationOptions { MaxNewTokens = 14, EosTokenIds = [] }).Tokens[0]).ToList();
        int eos = free[0][2];
        var options = new GenerationOptions { MaxNewTokens = 14, EosTokenIds = [eos], PadTokenId = 0 };
        var alone = prompts.Select(p => generator.Generate([p], options)).ToList();
        Assert.Contains(alone, a => a.FinishReasons[0] == FinishReason.EndOfSequence);
        Assert.Contains(alone, a => a.FinishReasons[0] == FinishReason.Length);

        var progress = new List<int>();
        BatchGenerationResult batched = generator.GenerateBatched([.. prompts.Select(p => new GenerationRequest(p))], options, maxBatchSize, new SyncProgress(progress.Add));

        for (int i = 0; i < prompts.Length; i++)
        {
            GenerationRequestResult r = batched.Results[i];
            Assert.True(r.Succeeded);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Id);
            Assert.Equal(alone[i].Tokens[0], r.Tokens[0]);
            Assert.Equal(alone[i].FinishReasons[0], r.FinishReasons[0]);
            Assert.Equal(alone[i].GeneratedTokenCount, r.GeneratedTokenCount);
        }

        Assert.Equal(alone.Sum(a => a.GeneratedTokenCount), batched.GeneratedTokenCount);
        Assert.Equal(Enumerable.Range(1, prompts.Length), progress);
    }

    [Fact]
    public void SharedPromptPrefill_CopiesThePromptIntoEverySample_GreedySamplesEqualTheAloneOutput()
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        var generator = new TextGenerator(model);
        int[][] prompts = Prompts(model, 4, 10, 6);
        var options = new GenerationOptions { MaxNewTokens = 9, EosTokenIds = [] };
        BatchGenerationResult batched = generator.GenerateBatched([.. prompts.Select(p => new GenerationRequest(p) { Samples = 4 })], options, maxBatchSize: 5);
        for (int i = 0; i < prompts.Length; i++)
        {
            IReadOnlyList<int> alone = generator.Generate([prompts[i]], options).Tokens[0];
            Assert.Equal(4, batched.Results[i].Tokens.Count);
            Assert.All(batched.Results[i].Tokens, t => Assert.Equal(alone, t));
        }
    }

    [Fact]
    public void PromptsAdmittedTogether_ArePrefilledInOneLeftPaddedForward_GreedyStillEqualsDecodingAlone_InBFloat16()
    {
        // 8 slots: the first 8 prompts are prefilled in one forward, later ones a few at a time (once 2 slots are free),
        // each left-padded to the longest of its group; the early EOS makes rows finish and free slots at different steps.
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        var generator = new TextGenerator(model);
        int[][] prompts = Prompts(model, 7, 2, 11, 4, 9, 1, 6, 13, 3, 8, 5, 10, 2, 12, 7, 4, 9, 6, 1, 11);
        int eos = generator.Generate([prompts[0]], new GenerationOptions { MaxNewTokens = 3, EosTokenIds = [] }).Tokens[0][1];
        var options = new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [eos], PadTokenId = 0 };
        var alone = prompts.Select(p => generator.Generate([p], options)).ToList();
        Assert.Contains(alone, a => a.FinishReasons[0] == FinishReason.EndOfSequence);
        Assert.Contains(alone, a => a.FinishReasons[0] == FinishReason.Length);

        BatchGenerationResult batched = generator.GenerateBatched([.. prompts.Select(p => new GenerationRequest(p))], options, maxBatchSize: 8);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(alone[i].Tokens[0], batched.Results[i].Tokens[0]);
            Assert.Equal(alone[i].FinishReasons[0], batched.Results[i].FinishReasons[0]);
        }
    }

    [Fact]
    public void Sampling_DependsOnlyOnSeedRequestIdAndSample_NotOnBatchSizeOrOrder()
    {
        using var model = TestCheckpoints.Model("qwen2");
        var generator = new TextGenerator(model);
        int[][] prompts = Prompts(model, 5, 2, 8, 3, 6);
        var requests = prompts.Select((p, i) => new GenerationRequest(p) { Id = $"q{i}", Samples = 3 }).ToList();
        var options = new GenerationOptions { MaxNewTokens = 10, Temperature = 1.0, TopP = 0.95, TopK = 40, Seed = 11, EosTokenIds = [3] };

        Dictionary<string, IReadOnlyList<IReadOnlyList<int>>> Run(IEnumerable<GenerationRequest> order, int batch) =>
            generator.GenerateBatched([.. order], options, batch).Results.ToDictionary(r => r.Id, r => r.Tokens);

        var reference = Run(requests, 1);
        Assert.Equal(reference, Run(requests, 4));
        Assert.Equal(reference, Run(Enumerable.Reverse(requests), 7));
        Assert.Equal(reference, Run(requests.Skip(2).Concat(requests.Take(2)), 32));
        var single = generator.GenerateBatched([requests[3]], options, 2).Results[0];
        Assert.Equal(reference["q3"], single.Tokens);

        // Samples of one prompt differ from each other, and another seed samples other text: the test can fail.
        Assert.Contains(reference.Values, samples => samples.Distinct(new SequenceComparer()).Count() > 1);
        options.Seed = 12;
        Assert.NotEqual(reference, Run(requests, 4));
    }

    [Fact]
    public void RequestsWithManySamples_ArePrefilledAhead_OutputsEqualTheReference()
    {
        // 8 slots, 5 samples per request: one request's samples almost fill the free slots, so prompts are prefilled
        // max(1, 8 / 4) = 2 requests at a time and wait, prefilled, for their slots (some samples of a request start
        // steps after the others). Greedy samples still equal decoding alone; sampled ones equal one slot at a time.
        using var model = TestCheckpoints.Model("llama");
        var generator = new TextGenerator(model);
        int[][] prompts = Prompts(model, 6, 3, 9, 4, 11, 2, 7);
        int eos = generator.Generate([prompts[0]], new GenerationOptions { MaxNewTokens = 3, EosTokenIds = [] }).Tokens[0][1];
        var greedy = new GenerationOptions { MaxNewTokens = 9, EosTokenIds = [eos], PadTokenId = 0 };
        BatchGenerationResult batched = generator.GenerateBatched([.. prompts.Select(p => new GenerationRequest(p) { Samples = 5 })], greedy, maxBatchSize: 8);
        for (int i = 0; i < prompts.Length; i++)
        {
            IReadOnlyList<int> alone = generator.Generate([prompts[i]], greedy).Tokens[0];
            Assert.Equal(5, batched.Results[i].Tokens.Count);
            Assert.All(batched.Results[i].Tokens, t => Assert.Equal(alone, t));
        }

        var sampled = new GenerationOptions { MaxNewTokens = 9, Temperature = 0.8, TopP = 0.9, TopK = 20, Seed = 5, EosTokenIds = [eos], PadTokenId = 0 };
        var requests = prompts.Select((p, i) => new GenerationRequest(p) { Id = $"r{i}", Samples = 5 }).ToList();
        var oneSlot = generator.GenerateBatched(requests, sampled, maxBatchSize: 5).Results; // 5 slots: a request at a time
        var ahead = generator.GenerateBatched(requests, sampled, maxBatchSize: 8).Results;
        Assert.Equal(oneSlot.Select(r => r.Tokens), ahead.Select(r => r.Tokens));
        Assert.Contains(oneSlot, r => r.Tokens.Distinct(new SequenceComparer()).Count() > 1);
    }

    [Fact]
    public void ARequestThatCannotFit_IsRejectedByName_TheOthersComplete()
    {
        using var model = TestCheckpoints.Model("llama");
        var generator = new TextGenerator(model);
        int maxPositions = model.Config.MaxPositionEmbeddings;
        int[] tooLong = Prompt(model.Config.VocabSize, maxPositions - 5, 1);
        int[][] fine = Prompts(model, 4, 7);
        var options = new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [] };
        BatchGenerationResult result = generator.GenerateBatched(
            [new GenerationRequest(fine[0]) { Id = "first" }, new GenerationRequest(tooLong) { Id = "long-one" }, new GenerationRequest([]) { Id = "empty" }, new GenerationRequest(fine[1]) { Id = "last" }],
            options);

        GenerationRequestResult rejected = result.Results[1];
        Assert.False(rejected.Succeeded);
        Assert.Contains("'long-one'", rejected.Error);
        Assert.Contains($"prompt length {maxPositions - 5} + MaxNewTokens 8 exceeds max_position_embeddings {maxPositions}", rejected.Error);
        Assert.Contains("at most 5 new tokens", rejected.Error);
        Assert.Empty(rejected.Tokens);
        Assert.Contains("'empty'", result.Results[2].Error);
        Assert.Equal(generator.Generate([fine[0]], options).Tokens[0], result.Results[0].Tokens[0]);
        Assert.Equal(generator.Generate([fine[1]], options).Tokens[0], result.Results[3].Tokens[0]);
        Assert.Equal(16, result.GeneratedTokenCount);
    }

    [Fact]
    public void InvalidRequestsAndCancellation_AreReported()
    {
        using var model = TestCheckpoints.Model("llama");
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 4, EosTokenIds = [] };
        var error = Assert.Throws<ArgumentException>(() => generator.GenerateBatched(
            [new GenerationRequest([1, 2]) { Id = "a" }, new GenerationRequest([3]) { Id = "a", Samples = 0 }], options));
        Assert.Contains("repeated: 'a'", error.Message);
        Assert.Contains("asks for 0 samples", error.Message);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => generator.GenerateBatched([new GenerationRequest([1, 2])], options, cancellationToken: cancelled.Token));
    }

    [Fact]
    public void NonFiniteLogits_ThrowNamingTheRequest()
    {
        using var model = TestCheckpoints.Model("llama");
        using (no_grad())
        {
            model.state_dict()["lm_head.weight"][7].fill_(float.NaN);
        }

        var error = Assert.Throws<NonFiniteException>(() => new TextGenerator(model).GenerateBatched(
            [new GenerationRequest([1, 2, 3]) { Id = "broken" }], new GenerationOptions { MaxNewTokens = 3, EosTokenIds = [] }));
        Assert.Contains("'broken'", error.Message);
        Assert.Contains("lm_head.weight", error.NonFiniteWeights);
    }

    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    private sealed class SequenceComparer : IEqualityComparer<IReadOnlyList<int>>
    {
        public bool Equals(IReadOnlyList<int>? x, IReadOnlyList<int>? y) => x!.SequenceEqual(y!);

        public int GetHashCode(IReadOnlyList<int> obj) => obj.Count;
    }
}
