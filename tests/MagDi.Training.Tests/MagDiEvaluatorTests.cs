using MagDi.Tasks;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

public sealed class MagDiEvaluatorTests
{
    private static List<Question> Questions() => TestStudent.Graphs(4).Select(g => g.ToQuestion()).ToList();

    [Fact]
    public async Task Evaluate_AfterTraining_AnswersTheTrainedQuestionsAndWritesScorableFiles()
    {
        string dir = TestStudent.TempDirectory();
        try
        {
            var model = TestStudent.Model();
            var graphs = TestStudent.Graphs(4);
            var untrained = await new MagDiEvaluator(model, new CharTokenizer(), new EvaluationOptions { MaxNewTokens = 40 }).EvaluateAsync(Questions());

            await MagDiTrainer.CreateBuilder()
                .UseStudent(model, new CharTokenizer())
                .WithTrainingGraphs(graphs)
                .WithLevel(DistillationLevel.CorrectNodes)
                .WithFullFineTuning()
                .WithLearningRate(3e-3)
                .WithSchedule(epochs: 400, warmupSteps: 5, maxSteps: 150)
                .WithBatchSize(4)
                .WithOutputDirectory(Path.Combine(dir, "train"))
                .BuildAndTrainAsync();

            var evaluator = new MagDiEvaluator(model, new CharTokenizer(), new EvaluationOptions { MaxNewTokens = 40, BatchSize = 3 });
            EvaluationResult trained = await evaluator.EvaluateAsync(Questions());

            Assert.Equal(4, trained.Count);
            Assert.True(trained.Correct > untrained.Correct, $"trained {trained.Correct}/4 vs untrained {untrained.Correct}/4");
            Assert.True(trained.AverageGeneratedTokens > 0);
            Assert.Contains("So the answer is", trained.Questions[0].Output);

            await MagDiEvaluator.WriteAsync(trained, Path.Combine(dir, "eval"));
            var predictions = await Scoring.ReadPredictionsAsync(Path.Combine(dir, "eval", "predictions.jsonl"));
            ScoreResult score = Scoring.Score(ReasoningTasks.Gsm8k, Questions(), predictions);
            Assert.Equal(trained.Correct, score.Correct);
            Assert.True(File.Exists(Path.Combine(dir, "eval", "metrics.json")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SelfConsistency_VotesOverSamples()
    {
        var evaluator = new MagDiEvaluator(TestStudent.Model(), new CharTokenizer(),
            new EvaluationOptions { MaxNewTokens = 8, Samples = 3, Decoding = DecodingStrategy.Paper, BatchSize = 6, Seed = 5 });
        EvaluationResult result = await evaluator.EvaluateAsync(Questions().Take(2));
        Assert.Equal(2, result.Count);
        Assert.All(result.Questions, q => Assert.NotNull(q.Votes));
    }

    [Fact]
    public async Task Evaluate_WhenTheModelPadsItsVocabulary_SkipsIdsTheTokenizerDoesNotHave()
    {
        // 200 embedding rows for a 98-token tokenizer: an untrained model emits padding ids almost every answer.
        var model = MagDi.Modeling.CausalLanguageModel.CreateRandom(TestStudent.Config(vocab: 200), 9);
        var evaluator = new MagDiEvaluator(model, new CharTokenizer(), new EvaluationOptions { MaxNewTokens = 30 });
        EvaluationResult result = await evaluator.EvaluateAsync(Questions());
        Assert.Equal(4, result.Count);
        Assert.True(result.AverageGeneratedTokens > 0);
    }

    [Fact]
    public async Task AQuestionTooLongForTheModel_CountsAsWrongWithItsReason_TheOthersAreEvaluatedAsAlone()
    {
        var model = TestStudent.Model();
        List<Question> questions = Questions().Take(3).ToList();
        questions[1] = questions[1] with { Id = "too-long", Text = string.Concat(Enumerable.Repeat("Tom has 3 apples. ", 40)) };
        var options = new EvaluationOptions { MaxNewTokens = 12, BatchSize = 2 };
        EvaluationResult result = await new MagDiEvaluator(model, new CharTokenizer(), options).EvaluateAsync(questions);

        Assert.Equal(3, result.Count);
        EvaluatedQuestion rejected = result.Questions[1];
        Assert.False(rejected.IsCorrect);
        Assert.Contains("'too-long'", rejected.Error);
        Assert.Contains("max_position_embeddings 512", rejected.Error);
        foreach (int i in new[] { 0, 2 })
        {
            // Continuous batching gives each question the answer it gets alone.
            EvaluationResult alone = await new MagDiEvaluator(model, new CharTokenizer(), options).EvaluateAsync([questions[i]]);
            Assert.Null(result.Questions[i].Error);
            Assert.Equal(alone.Questions[0].Output, result.Questions[i].Output);
        }
    }

    [Fact]
    public async Task ServedStudent_IChatClient_VotesOverSamples_AndTakesTokensFromUsage()
    {
        List<Question> questions = Questions().Take(2).ToList();
        using var client = new ScriptedClient((prompt, seed) =>
            prompt.Contains(questions[0].Text, StringComparison.Ordinal)
                ? (seed % 3 == 0 ? "So the answer is 1." : $"So the answer is {questions[0].GoldAnswer}.")
                : "So the answer is 123456.");
        var evaluator = new MagDiEvaluator(client, new EvaluationOptions { Samples = 3, Decoding = DecodingStrategy.Paper, MaxNewTokens = 30, Seed = 0 });
        var progress = new List<int>();
        EvaluationResult result = await evaluator.EvaluateAsync(questions, new SyncProgress(progress.Add));

        Assert.True(result.Questions[0].IsCorrect);
        Assert.Equal(2, result.Questions[0].Votes![questions[0].GoldAnswer]);
        Assert.False(result.Questions[1].IsCorrect);
        Assert.Equal(21, result.Questions[0].GeneratedTokens); // 3 samples x 7 output tokens (usage)
        Assert.Equal(7, result.AverageGeneratedTokens);
        Assert.Equal(6, client.Calls);
        Assert.Equal([1, 2], progress.Order());
        Assert.StartsWith("### Question: ", client.LastPrompt);

        using var broken = new ScriptedClient((_, _) => throw new HttpRequestException("connection refused"));
        var error = await Assert.ThrowsAsync<IOException>(() => new MagDiEvaluator(broken).EvaluateAsync(questions));
        Assert.Contains("served student failed on question", error.Message);
        Assert.Contains("connection refused", error.Message);
    }

    [Fact]
    public async Task SelfConsistency_KeepsEverySampleAndItsAnswer_AndWritesThemToSamplesJsonl()
    {
        List<Question> questions = Questions().Take(2).ToList();
        using var client = new ScriptedClient((prompt, seed) =>
            prompt.Contains(questions[0].Text, StringComparison.Ordinal)
                ? (seed % 3 == 0 ? "So the answer is 1." : $"So the answer is {questions[0].GoldAnswer}.")
                : seed % 3 == 1 ? "I do not know." : "So the answer is 123456.");
        EvaluationResult result = await new MagDiEvaluator(client, new EvaluationOptions { Samples = 3, Decoding = DecodingStrategy.Paper, MaxNewTokens = 30, Seed = 0 })
            .EvaluateAsync(questions);

        // Sample s of question i is seeded with Seed + i·k + s: the scripted answer of every sample is known.
        EvaluatedQuestion first = result.Questions[0], second = result.Questions[1];
        Assert.Equal(["1", questions[0].GoldAnswer, questions[0].GoldAnswer], first.SampleAnswers!);
        Assert.Equal($"So the answer is {questions[0].GoldAnswer}.", first.SampleOutputs![1]);
        Assert.Equal(first.Output, first.SampleOutputs[0]);
        Assert.Equal(["123456", null, "123456"], second.SampleAnswers!);
        Assert.Equal("I do not know.", second.SampleOutputs![1]);

        string dir = TestStudent.TempDirectory();
        try
        {
            await MagDiEvaluator.WriteAsync(result, dir);
            string[] lines = File.ReadAllLines(Path.Combine(dir, "samples.jsonl"));
            Assert.Equal(2, lines.Length);
            using var line = System.Text.Json.JsonDocument.Parse(lines[1]);
            Assert.Equal(second.Id, line.RootElement.GetProperty("id").GetString());
            Assert.Equal(second.SampleOutputs, line.RootElement.GetProperty("outputs").EnumerateArray().Select(o => o.GetString()!));
            Assert.Equal(second.SampleAnswers, line.RootElement.GetProperty("answers").EnumerateArray().Select(a => a.GetString()));

            // One sample: nothing to keep beyond the prediction and no samples file is written; the earlier evaluation's
            // samples.jsonl is not MagDi's to delete in this run, so it stays byte for byte.
            EvaluationResult single = await new MagDiEvaluator(client, new EvaluationOptions { MaxNewTokens = 30 }).EvaluateAsync(questions);
            Assert.All(single.Questions, q => Assert.Null(q.SampleAnswers));
            Assert.All(single.Questions, q => Assert.Null(q.SampleOutputs));
            string singleDir = Path.Combine(dir, "single");
            await MagDiEvaluator.WriteAsync(single, singleDir);
            Assert.False(File.Exists(Path.Combine(singleDir, "samples.jsonl")));
            byte[] earlier = File.ReadAllBytes(Path.Combine(dir, "samples.jsonl"));
            await MagDiEvaluator.WriteAsync(single, dir);
            Assert.Equal(earlier, File.ReadAllBytes(Path.Combine(dir, "samples.jsonl")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ServedStudent_WhenARequestFailsAfterAnotherFailureCancelledIt_ReportsTheFirstFailure()
    {
        // The race CI once hit: question 1 fails; the failure cancels question 0's request, which then fails with an
        // error of its own instead of a cancellation. WhenAll would surface question 0's raw error (it comes first).
        List<Question> questions = Questions().Take(2).ToList();
        using var client = new FailingAfterCancellationClient(questions[1].Text);
        var evaluator = new MagDiEvaluator(client, new EvaluationOptions { BatchSize = 2 });

        var error = await Assert.ThrowsAsync<IOException>(() => evaluator.EvaluateAsync(questions));

        Assert.Contains($"served student failed on question '{questions[1].Id}'", error.Message);
        Assert.Contains("model not found", error.Message);
        Assert.Equal(2, client.Calls);
    }

    [Fact]
    public async Task ServedStudent_WhenTheCallerCancels_ThrowsOperationCanceled_EvenIfRequestsFailWithOtherErrors()
    {
        List<Question> questions = Questions().Take(2).ToList();
        using var client = new FailingAfterCancellationClient(failingQuestion: "no question has this text");
        using var cancellation = new CancellationTokenSource();
        Task<EvaluationResult> run = new MagDiEvaluator(client, new EvaluationOptions { BatchSize = 2 }).EvaluateAsync(questions, cancellationToken: cancellation.Token);
        await client.BothStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    /// <summary>
    /// Fails the request whose prompt contains <c>failingQuestion</c> once every request has started; every other request
    /// waits for its cancellation and then fails with a non-cancellation error, as some HTTP stacks do.
    /// </summary>
    private sealed class FailingAfterCancellationClient(string failingQuestion) : Microsoft.Extensions.AI.IChatClient
    {
        private int _calls;

        public int Calls => _calls;

        public TaskCompletionSource BothStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<Microsoft.Extensions.AI.ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _calls) == 2)
            {
                BothStarted.SetResult();
            }

            await BothStarted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (messages.Single().Text.Contains(failingQuestion, StringComparison.Ordinal))
            {
                throw new HttpRequestException("model not found");
            }

            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            throw new HttpRequestException("the connection was reset");
        }

        public IAsyncEnumerable<Microsoft.Extensions.AI.ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    private sealed class ScriptedClient(Func<string, long, string> answer) : Microsoft.Extensions.AI.IChatClient
    {
        private int _calls;

        public int Calls => _calls;

        public string? LastPrompt { get; private set; }

        public Task<Microsoft.Extensions.AI.ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            LastPrompt = messages.Single().Text;
            string text = answer(LastPrompt, options!.Seed!.Value);
            return Task.FromResult(new Microsoft.Extensions.AI.ChatResponse(new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.Assistant, text))
            {
                Usage = new Microsoft.Extensions.AI.UsageDetails { OutputTokenCount = 7 },
            });
        }

        public IAsyncEnumerable<Microsoft.Extensions.AI.ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    [Fact]
    public void Options_AreValidated()
    {
        using var model = TestStudent.Model();
        var error = Assert.Throws<OptionsValidationException>(() =>
            new MagDiEvaluator(model, new CharTokenizer(), new EvaluationOptions { Samples = 3, MaxNewTokens = 0 }));
        Assert.Equal(typeof(EvaluationOptions), error.OptionsType);
        Assert.Equal(2, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("MaxNewTokens", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Decoding = Paper", StringComparison.Ordinal));
    }
}
