using System.Text.Json;
using MagDi.Graphs.Heads;
using MagDi.SafeTensors;
using MagDi.Training.Experiments;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

/// <summary>The paper's Table 6 rows (MAGDi with node- or token-level attention instead of the GCN) through the experiment runner.</summary>
public sealed class GraphHeadExperimentTests : IDisposable
{
    private readonly string _root = TestStudent.TempDirectory();

    private static string ShippedBases => Path.Combine(Machine.RepositoryRoot(), "samples", "Shared", "synthetic-base");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static SyntheticExperimentOptions Tiny(int rounds) => new()
    {
        TrainingQuestions = 8,
        TestQuestions = 4,
        DiscussionRounds = rounds,
        PrebuiltBaseModels = ShippedBases,
    };

    private static MagDiExperimentBuilder Rows(SyntheticExperimentData data) => MagDiExperiment.CreateBuilder()
        .UseBaseModel(data.BaseModelDirectory, "cpu", ModelDType.F32)
        .WithTrainingGraphs(data.TrainingGraphs)
        .WithTestQuestions(data.TestQuestions)
        .WithSeeds(1)
        .AddLevelRow(DistillationLevel.Structure)
        .AddGraphHeadRows()
        .ConfigureTrainer(t => t.WithLora().WithSchedule(epochs: 100, warmupSteps: 1, maxSteps: 2).WithBatchSize(2).WithLearningRate(1e-2))
        .WithEvaluation(new EvaluationOptions { MaxNewTokens = 8, BatchSize = 4 });

    /// <summary>
    /// On the embedded synthetic benchmark (shipped base student, simulated teachers), round-0 MAGs, which fit the student's
    /// 384 positions when linearised: both attention rows train with their own head and are evaluated, compared with Level 4.
    /// </summary>
    [Fact]
    public async Task GraphHeadRows_TrainAndEvaluate_OnTheSyntheticBenchmark_ComparedWithTheGcn()
    {
        SyntheticExperimentData data = await SyntheticExperiment.PrepareAsync(Path.Combine(_root, "setup"), Tiny(rounds: 0));
        string output = Path.Combine(_root, "experiment");

        ExperimentReport report = await Rows(data).WithOutputDirectory(output).Build().RunAsync();

        Assert.Equal(["Level 4 (MAGDi)", "MAGDi (node attention)", "MAGDi (token attention)"], report.Rows.Select(r => r.Name));
        Assert.Equal([ExperimentRowKind.Level, ExperimentRowKind.GraphHead, ExperimentRowKind.GraphHead], report.Rows.Select(r => r.Kind));
        foreach (ExperimentRowResult row in report.Rows.Skip(1))
        {
            Assert.True(row.AverageTrainingSeconds > 0, row.Name);
            Assert.InRange(row.Accuracy.Mean, 0.0, 1.0);
            Assert.Equal("Level 4 (MAGDi)", row.Comparisons["level_4"].Reference);
        }

        Assert.Equal(
            ["GCN (Level 4) > node attention", "GCN (Level 4) > token attention", "Node attention > token attention"],
            report.Claims.Select(c => c.Claim));
        Assert.Contains("Δ vs Level 4 (GCN)", report.TableMarkdown, StringComparison.Ordinal);

        foreach (var (slug, key) in new[] { ("magdi-node-attention", "node_attention"), ("magdi-token-attention", "token_attention") })
        {
            string checkpoint = Directory.GetDirectories(Path.Combine(output, "runs", slug, "seed-1", "train"), "checkpoint-*").Single();
            using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(checkpoint, "trainable.safetensors"));
            Assert.Contains($"objective.{key}.attn1.q_proj.weight", file.Tensors.Keys);
            Assert.DoesNotContain(file.Tensors.Keys, k => k.StartsWith("objective.gcn.", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(output, "runs", slug, "seed-1", "result.json")));
        }
    }

    [Fact]
    public async Task TokenAttentionRow_OnMagsLongerThanTheStudentsPositions_FailsAtBuild_NamingTheRowAndTheExcess()
    {
        // Three discussion rounds: MAGs of up to 12 nodes, several hundred tokens more than the base student's 384 positions.
        SyntheticExperimentData data = await SyntheticExperiment.PrepareAsync(Path.Combine(_root, "setup"), Tiny(rounds: 3));

        var ex = Assert.Throws<OptionsValidationException>(() => Rows(data).WithOutputDirectory(Path.Combine(_root, "never")).Build());

        string failure = Assert.Single(ex.Failures);
        Assert.StartsWith("Row 'MAGDi (token attention)': GraphHead TokenAttention", failure, StringComparison.Ordinal);
        Assert.Contains("the model's max_position_embeddings (384 tokens)", failure, StringComparison.Ordinal);
        Assert.Matches(@"MAG '[^']+' \(\d+ nodes\) linearises to \d+ tokens, \d+ more than 384", failure);
        Assert.False(Directory.Exists(Path.Combine(_root, "never")));
    }

    [Fact]
    public void AddGraphHeadRow_Gcn_PointsToLevel4()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => MagDiExperiment.CreateBuilder().AddGraphHeadRow(GraphHeadKind.Gcn));
        Assert.Contains("AddLevelRow(DistillationLevel.Structure)", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Runs finished before the graph-head settings existed keep their fingerprints: the settings enter it only when changed.</summary>
    [Fact]
    public void RunFingerprints_LeaveTheGraphHeadSettingsOut_AtTheirDefaults()
    {
        var defaults = new MagDiTrainingOptions();
        string all = JsonSerializer.Serialize(defaults);
        string fingerprinted = JsonSerializer.Serialize(MagDiExperiment.FingerprintOptions(defaults));
        Assert.DoesNotContain("GraphHead", fingerprinted, StringComparison.Ordinal);
        Assert.DoesNotContain("AttentionHeads", fingerprinted, StringComparison.Ordinal);
        // The preset and DSS-MT settings (issue 17) are left out at their defaults too.
        var expected = JsonSerializer.SerializeToNode(defaults)!.AsObject();
        foreach (string key in new[] { "GraphHead", "AttentionHeads", "Preset", "Objective", "RationaleWeight" })
        {
            Assert.True(expected.Remove(key), key);
        }

        Assert.Equal(expected.ToJsonString(), fingerprinted);
        Assert.Contains("\"GraphHead\":0,\"AttentionHeads\":8", all, StringComparison.Ordinal);

        var node = new MagDiTrainingOptions { GraphHead = GraphHeadKind.NodeAttention, Preset = TrainingPreset.Release, Objective = DistillationObjective.StepByStep };
        Assert.Equal(JsonSerializer.Serialize(node), JsonSerializer.Serialize(MagDiExperiment.FingerprintOptions(node)));
    }
}
