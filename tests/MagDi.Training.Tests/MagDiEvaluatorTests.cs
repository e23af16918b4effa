using Microsoft.Extensions.Options;
using MagDi.Tasks;

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
