using MagDi.Graphs;
using MagDi.Losses;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Training.Tests;

public sealed class MagDiTrainerTests : IDisposable
{
    private readonly string _out = TestStudent.TempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_out, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MagDiTrainerBuilder Builder(DistillationLevel level, string? sub = null) => MagDiTrainer.CreateBuilder()
        .UseStudent(TestStudent.Model(), new CharTokenizer())
        .WithTrainingGraphs(TestStudent.Graphs())
        .WithLevel(level)
        .WithLora(rank: 4, alpha: 8, dropout: 0.1, "q_proj", "v_proj")
        .WithLearningRate(5e-3)
        .WithSchedule(epochs: 50, warmupSteps: 2, maxSteps: 6)
        .WithBatchSize(2, gradientAccumulationSteps: 2)
        .WithSeed(11)
        .Configure(o => o.GcnHiddenSize = 16)
        .WithOutputDirectory(Path.Combine(_out, sub ?? level.ToString()));

    [Fact]
    public void Build_WithoutStudentOrGraphs_ListsEveryProblemInOneException()
    {
        var error = Assert.Throws<OptionsValidationException>(() => MagDiTrainer.CreateBuilder().WithLossWeights(1, 2, 1).Build());
        Assert.Equal(typeof(MagDiTrainingOptions), error.OptionsType);
        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("student is required", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Training MAGs are required", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("OutputDirectory is required", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Beta", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_WithAnUnknownSingleTeacher_NamesTheAgentsThatExist()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Builder(DistillationLevel.RoundZero).WithSingleTeacher("claude").Build());
        string failure = Assert.Single(error.Failures);
        Assert.Contains("'claude'", failure);
        Assert.Contains("alpha", failure);
    }

    [Theory]
    [InlineData(DistillationLevel.RoundZero)]
    [InlineData(DistillationLevel.CorrectNodes)]
    [InlineData(DistillationLevel.AllNodes)]
    [InlineData(DistillationLevel.Structure)]
    public async Task TrainAsync_EachLevel_RunsItsObjectivesAndWritesAdapterMetricsAndCheckpoint(DistillationLevel level)
    {
        using MagDiTrainer trainer = Builder(level).Build();
        TrainingResult result = await trainer.TrainAsync();

        Assert.Equal(TrainingStatus.Completed, result.Status);
        Assert.Equal(6, result.Steps);
        Assert.Equal(6, result.History.Count);
        Assert.All(result.History, m => Assert.True(double.IsFinite(m[LossReport.Keys.Total])));
        Assert.True(File.Exists(Path.Combine(result.FinalModelDirectory, "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(result.FinalModelDirectory, "adapter_config.json")));
        Assert.Equal(6, File.ReadAllLines(Path.Combine(result.OutputDirectory, "metrics.jsonl")).Length);
        Assert.NotNull(result.LastCheckpoint);
        Assert.True(result.TokensPerSecond > 0);

        double margin = result.History.Max(m => m[LossReport.Keys.Margin]);
        double node = result.History.Max(m => m[LossReport.Keys.Node]);
        Assert.Equal(level >= DistillationLevel.AllNodes, margin > 0);
        Assert.Equal(level == DistillationLevel.Structure, node > 0);
        Assert.Equal(level == DistillationLevel.Structure, trainer.Objective!.NodeClassifier is not null);
    }

    [Fact]
    public async Task TrainAsync_FreshRunIntoAFolderWithAnEarlierRunsCheckpoints_IsRefused_AndResumeContinuesIt()
    {
        TrainingResult first = await Builder(DistillationLevel.RoundZero, "again").BuildAndTrainAsync();

        // A fresh run would prune the earlier run's checkpoints against its own: refused, naming the folder and the checkpoint.
        var ex = await Assert.ThrowsAsync<IOException>(() => Builder(DistillationLevel.RoundZero, "again").BuildAndTrainAsync());
        Assert.Contains("holds checkpoints of an earlier run", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(first.LastCheckpoint!), ex.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(first.LastCheckpoint), "the earlier run's checkpoint is kept");

        TrainingResult resumed = await Builder(DistillationLevel.RoundZero, "again").ResumeFromLatestCheckpoint().BuildAndTrainAsync();
        Assert.Equal(first.Steps, resumed.Steps);
    }

    [Fact]
    public async Task TrainAsync_SelectsNodesByLevel()
    {
        var graphs = TestStudent.Graphs();
        int all = graphs.Sum(g => g.Nodes.Count);
        int correct = graphs.Sum(g => g.CorrectNodes.Count());
        int roundZeroCorrect = graphs.Sum(g => g.Nodes.Count(n => n.Round == 0 && n.IsCorrect));

        var r1 = await Builder(DistillationLevel.RoundZero).WithSchedule(1, 0, 1).BuildAndTrainAsync();
        var r2 = await Builder(DistillationLevel.CorrectNodes).WithSchedule(1, 0, 1).BuildAndTrainAsync();
        var r3 = await Builder(DistillationLevel.AllNodes).WithSchedule(1, 0, 1).BuildAndTrainAsync();
        var sit = await Builder(DistillationLevel.RoundZero, "sit").WithSingleTeacher("beta").WithSchedule(1, 0, 1).BuildAndTrainAsync();

        Assert.Equal(roundZeroCorrect, r1.Data.NodesUsed);
        Assert.Equal(correct, r2.Data.NodesUsed);
        Assert.Equal(all, r3.Data.NodesUsed);
        Assert.Equal(graphs.Sum(g => g.Nodes.Count(n => n.Agent == "beta" && n.Round == 0 && n.IsCorrect)), sit.Data.NodesUsed);
        Assert.Equal(all - roundZeroCorrect, r1.Data.NodesExcludedByLevel);
    }

    [Fact]
    public async Task TrainAsync_FullFineTuning_LowersTheNextTokenLoss()
    {
        var result = await Builder(DistillationLevel.CorrectNodes, "full")
            .WithFullFineTuning()
            .WithLearningRate(3e-3)
            .WithSchedule(epochs: 100, warmupSteps: 0, maxSteps: 30)
            .BuildAndTrainAsync();

        double first = result.History.Take(3).Average(m => m[LossReport.Keys.Nll]);
        double last = result.History.TakeLast(3).Average(m => m[LossReport.Keys.Nll]);
        Assert.True(last < first * 0.75, $"next-token loss {first:F3} -> {last:F3}");
        Assert.True(File.Exists(Path.Combine(result.FinalModelDirectory, "model.safetensors")));
    }

    [Fact]
    public async Task Resume_AfterCancellation_ContinuesTheSameLossTrajectory()
    {
        TrainingResult straight = await Builder(DistillationLevel.Structure, "straight").BuildAndTrainAsync();

        using var cts = new CancellationTokenSource();
        using var first = Builder(DistillationLevel.Structure, "resumed")
            .UseProgress(new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Step == 3)
                {
                    cts.Cancel();
                }
            }))
            .Build();
        TrainingResult interrupted = await first.TrainAsync(cts.Token);
        Assert.Equal(TrainingStatus.Cancelled, interrupted.Status);
        Assert.Equal(3, interrupted.Steps);
        Assert.NotNull(interrupted.LastCheckpoint);

        TrainingResult resumed = await Builder(DistillationLevel.Structure, "resumed").ResumeFromLatestCheckpoint().BuildAndTrainAsync();
        Assert.Equal(TrainingStatus.Completed, resumed.Status);
        Assert.Equal(6, resumed.Steps);
        for (int i = 0; i < 6; i++)
        {
            foreach (string key in new[] { LossReport.Keys.Total, LossReport.Keys.Nll, LossReport.Keys.Margin, LossReport.Keys.Node })
            {
                Assert.Equal(straight.History[i][key], resumed.History[i][key], 6);
            }
        }
    }

    [Fact]
    public async Task TrainAsync_WhenALossBecomesNaN_NamesTheStepAndTerm()
    {
        var model = TestStudent.Model();
        using (no_grad())
        {
            model.EmbeddingWeight.fill_(float.NaN);
        }

        using var trainer = Builder(DistillationLevel.Structure).UseStudent(model, new CharTokenizer()).Build();
        var error = await Assert.ThrowsAsync<TrainingDivergedException>(() => trainer.TrainAsync());
        Assert.Equal(1, error.Step);
        Assert.StartsWith("loss/", error.Term);
        Assert.Contains("step 1", error.Message);
    }

    [Fact]
    public async Task TrainAsync_WithOnlyInvalidNodes_FailsBeforeTraining()
    {
        var graph = InteractionGraph.CreateBuilder().WithId("bad").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1")
            .AddAgent("alpha").AddInvalidNode("alpha", 0, "not json").Build();
        using var trainer = MagDiTrainer.CreateBuilder().UseStudent(TestStudent.Model(), new CharTokenizer())
            .WithTrainingGraphs([graph]).WithOutputDirectory(_out).Build();
        var error = await Assert.ThrowsAsync<TrainingDataException>(() => trainer.TrainAsync());
        Assert.Contains("1 node(s) are invalid", error.Message);
        Assert.Equal(["bad"], error.GraphIds);
    }

    [Fact]
    public async Task TrainAsync_RoundZeroWithoutACorrectRoundZeroNode_IsATrainingDataError()
    {
        var graph = InteractionGraph.CreateBuilder().WithId("wrong0").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1")
            .AddAgent("alpha").AddNode("alpha", 0, "It is 2.", "2").AddNode("alpha", 1, "It is 1.", "1").Build();
        using var trainer = MagDiTrainer.CreateBuilder().UseStudent(TestStudent.Model(), new CharTokenizer())
            .WithTrainingGraphs([graph]).WithLevel(DistillationLevel.RoundZero).WithOutputDirectory(_out).Build();
        var error = await Assert.ThrowsAsync<TrainingDataException>(() => trainer.TrainAsync());
        Assert.Contains("correct round-0 nodes only", error.Message);
        Assert.Equal(["wrong0"], error.GraphIds);
    }

    [Fact]
    public async Task TrainAsync_WithNodesLongerThanTheContext_NamesTheMag()
    {
        using var trainer = Builder(DistillationLevel.Structure).Configure(o => o.MaxSequenceLength = 16).Build();
        var error = await Assert.ThrowsAsync<TrainingDataException>(() => trainer.TrainAsync());
        Assert.Contains("MAG 'q0'", error.Message);
        Assert.Contains("q0", error.GraphIds);
        Assert.Contains("maximum sequence length 16", error.Message);
    }

    [Fact]
    public async Task TrainAsync_WithATokenizerLargerThanTheModel_Fails()
    {
        var model = MagDi.Modeling.CausalLanguageModel.CreateRandom(TestStudent.Config(vocab: 50), 1);
        using var trainer = Builder(DistillationLevel.Structure).UseStudent(model, new CharTokenizer()).Build();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => trainer.TrainAsync());
        Assert.Contains("98 tokens", error.Message);
        Assert.Contains("50 rows", error.Message);
    }

    [Fact]
    public async Task TrainAsync_MultiTask_MixesTasksInOneRun()
    {
        var yesNo = TestStudent.Graphs(4).Select((g, i) =>
        {
            var b = InteractionGraph.CreateBuilder().WithId($"yn{i}").WithTask("strategyqa").WithQuestion($"Is {i} even?").WithGoldAnswer(i % 2 == 0 ? "yes" : "no");
            b.AddAgent("alpha").AddAgent("beta");
            b.AddNode("alpha", 0, $"{i} mod 2 = {i % 2}.", i % 2 == 0 ? "yes" : "no", 0.9);
            b.AddNode("beta", 0, "Guess.", i % 2 == 0 ? "no" : "yes", 0.6);
            return b.Build();
        });
        var result = await Builder(DistillationLevel.Structure, "mt").WithTrainingGraphs(yesNo).WithSchedule(1, 0, 3).BuildAndTrainAsync();
        Assert.Equal(12, result.Data.GraphsUsed);
        Assert.All(result.History, m => Assert.True(double.IsFinite(m[LossReport.Keys.Total])));
    }

    [Fact]
    public void LearningRate_WarmsUpLinearlyThenDecaysToZero()
    {
        Assert.Equal(0.25, MagDiTrainer.LearningRateAt(0, 10, 4, 1.0), 12);
        Assert.Equal(1.0, MagDiTrainer.LearningRateAt(3, 10, 4, 1.0), 12);
        Assert.Equal(1.0, MagDiTrainer.LearningRateAt(4, 10, 4, 1.0), 12);
        Assert.Equal(0.5, MagDiTrainer.LearningRateAt(7, 10, 4, 1.0), 12);
        Assert.Equal(1.0 / 6, MagDiTrainer.LearningRateAt(9, 10, 4, 1.0), 12);
    }

    [Fact]
    public async Task TrainAsync_FrozenNodeFeatures_KeepTheStudentOutOfTheGraphLoss()
    {
        var live = await Builder(DistillationLevel.Structure, "live").BuildAndTrainAsync();
        var frozen = await Builder(DistillationLevel.Structure, "frozen")
            .Configure(o => o.NodeFeatures = NodeFeatureSource.Frozen).BuildAndTrainAsync();
        Assert.Equal(live.History[0][LossReport.Keys.Nll], frozen.History[0][LossReport.Keys.Nll], 6);
        Assert.True(double.IsFinite(frozen.History[^1][LossReport.Keys.Node]));
    }
}
