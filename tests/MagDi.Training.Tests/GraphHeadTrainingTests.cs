using MagDi.Graphs.Heads;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.SafeTensors;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

/// <summary>Training with each graph head of paper Table 6 through the same trainer API and checkpoints.</summary>
public sealed class GraphHeadTrainingTests : IDisposable
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

    private MagDiTrainerBuilder Builder(string sub, GraphHeadKind? head, CausalLanguageModel? model = null) => MagDiTrainer.CreateBuilder()
        .UseStudent(model ?? TestStudent.Model(), new CharTokenizer())
        .WithTrainingGraphs(TestStudent.Graphs(6))
        .WithLevel(DistillationLevel.Structure)
        .WithLora(rank: 4, alpha: 8, dropout: 0.1, "q_proj", "v_proj")
        .WithLearningRate(5e-3)
        .WithSchedule(epochs: 50, warmupSteps: 1, maxSteps: 4)
        .WithBatchSize(3)
        .WithSeed(11)
        .Configure(o => o.GcnHiddenSize = 16)
        .Configure(o =>
        {
            if (head is GraphHeadKind kind)
            {
                o.GraphHead = kind;
                o.AttentionHeads = 4;
            }
        })
        .WithOutputDirectory(Path.Combine(_out, sub));

    [Fact]
    public async Task ExplicitGcn_IsTheDefault_StepForStep()
    {
        TrainingResult byDefault = await Builder("default", head: null).WithSchedule(epochs: 50, warmupSteps: 1, maxSteps: 2).Build().TrainAsync();
        TrainingResult gcn = await Builder("gcn", GraphHeadKind.Gcn).WithSchedule(epochs: 50, warmupSteps: 1, maxSteps: 2).Build().TrainAsync();

        for (int i = 0; i < byDefault.History.Count; i++)
        {
            Assert.Equal(byDefault.History[i][LossReport.Keys.Total], gcn.History[i][LossReport.Keys.Total]);
            Assert.Equal(byDefault.History[i][LossReport.Keys.Node], gcn.History[i][LossReport.Keys.Node]);
        }
    }

    /// <summary>
    /// Each attention head trains, writes its weights under its own keys, and a run cancelled half-way resumes from that
    /// checkpoint onto the same loss trajectory as a run that was never interrupted (the heads' weights and optimizer state
    /// round-trip).
    /// </summary>
    [Theory]
    [InlineData(GraphHeadKind.NodeAttention, "node_attention")]
    [InlineData(GraphHeadKind.TokenAttention, "token_attention")]
    public async Task AttentionHead_Trains_SavesItsOwnKeys_AndResumesOnTheSameTrajectory(GraphHeadKind head, string key)
    {
        TrainingResult straight = await Builder("straight", head).Build().TrainAsync();
        Assert.All(straight.History, m => Assert.True(double.IsFinite(m[LossReport.Keys.Node]) && m[LossReport.Keys.Node] > 0));

        using var cts = new CancellationTokenSource();
        TrainingResult interrupted = await Builder("resumed", head)
            .UseProgress(new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Step == 2)
                {
                    cts.Cancel();
                }
            }))
            .Build()
            .TrainAsync(cts.Token);
        Assert.Equal(TrainingStatus.Cancelled, interrupted.Status);
        using (SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(interrupted.LastCheckpoint!, "trainable.safetensors")))
        {
            string[] heads = [.. file.Tensors.Keys.Where(k => k.StartsWith("objective.", StringComparison.Ordinal) && !k.StartsWith("objective.scorer.", StringComparison.Ordinal))];
            Assert.Contains($"objective.{key}.attn1.q_proj.weight", heads);
            Assert.Contains($"objective.{key}.attn2.o_proj.bias", heads);
            Assert.Contains($"objective.{key}.classifier.weight", heads);
            Assert.All(heads, k => Assert.StartsWith($"objective.{key}.", k, StringComparison.Ordinal));
        }

        TrainingResult resumed = await Builder("resumed", head).ResumeFromLatestCheckpoint().Build().TrainAsync();
        Assert.Equal(4, resumed.Steps);
        for (int i = 0; i < 4; i++)
        {
            foreach (string term in new[] { LossReport.Keys.Total, LossReport.Keys.Nll, LossReport.Keys.Margin, LossReport.Keys.Node })
            {
                Assert.Equal(straight.History[i][term], resumed.History[i][term], 6);
            }
        }
    }

    [Fact]
    public async Task ResumingWithAnotherHead_IsRefused_NamingTheKeys()
    {
        using var cts = new CancellationTokenSource();
        await Builder("switch", head: null)
            .UseProgress(new SyncProgress<TrainingProgress>(p => cts.Cancel()))
            .Build()
            .TrainAsync(cts.Token);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Builder("switch", GraphHeadKind.NodeAttention).ResumeFromLatestCheckpoint().Build().TrainAsync());
        Assert.Contains("objective.node_attention.", error.Message);
        Assert.Contains("objective.gcn.", error.Message);
    }

    [Fact]
    public async Task TokenAttention_WithMagsLongerThanTheModelsPositions_NamesTheSettingTheMagAndTheExcess()
    {
        ModelConfig config = TestStudent.Config();
        config.MaxPositionEmbeddings = 300;
        var model = CausalLanguageModel.CreateRandom(config, 3);

        var error = await Assert.ThrowsAsync<TrainingDataException>(() => Builder("long", GraphHeadKind.TokenAttention, model).Build().TrainAsync());

        // q2 and q5 have three rounds (9 nodes); each node alone fits 300 positions, their linearisation does not.
        Assert.Contains("GraphHead TokenAttention", error.Message);
        Assert.Contains("the model's max_position_embeddings (300 tokens)", error.Message);
        Assert.Matches(@"MAG 'q[25]' \(9 nodes\) linearises to \d+ tokens, \d+ more than 300", error.Message);
        Assert.Contains("q2", error.GraphIds);
        Assert.DoesNotContain("q0", error.GraphIds);

        // Node-level attention encodes each node on its own and trains on the same data.
        TrainingResult node = await Builder("long-node", GraphHeadKind.NodeAttention, CausalLanguageModel.CreateRandom(config, 3))
            .WithSchedule(epochs: 1, warmupSteps: 0, maxSteps: 1).Build().TrainAsync();
        Assert.Equal(TrainingStatus.Completed, node.Status);
    }

    [Fact]
    public void BadGraphHeadSettings_AreListedTogether()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Builder("bad", GraphHeadKind.TokenAttention)
            .Configure(o =>
            {
                o.NodeFeatures = NodeFeatureSource.Frozen;
                o.GcnHiddenSize = 18;
            })
            .Build());
        Assert.Contains("GraphHead TokenAttention cannot use NodeFeatures Frozen", ex.Message);
        Assert.Contains("GcnHiddenSize (18) must be a multiple of AttentionHeads (4)", ex.Message);
        Assert.Contains("is not a GraphHeadKind", Assert.Throws<OptionsValidationException>(() => Builder("bad2", (GraphHeadKind)9).Build()).Message);
    }
}
