using Microsoft.Extensions.Options;
namespace MagDi.Losses.Tests;

/// <summary>
/// Tests that seed torch's global generator and then build modules from it; they must not share the process with
/// parallel tests, which draw from the same generator (a parallel test once moved the GCN's initial weights).
/// </summary>
[CollectionDefinition(nameof(GlobalTorchRandomState), DisableParallelization = true)]
public sealed class GlobalTorchRandomState
{
}

/// <summary>The node-classification term with each graph head of paper Table 6.</summary>
[Collection(nameof(GlobalTorchRandomState))]
public class GraphHeadObjectiveTests
{
    private const int C = NodeLabels.Correct;
    private const int I = NodeLabels.Incorrect;
    private const int D = 8;

    private static MagDiObjectiveOptions Options(GraphHeadKind head, double beta = 0.1, int hidden = D) => new()
    {
        HiddenSize = hidden,
        Weights = new MagDiLossWeights(1, beta, 1),
        GraphHead = head,
        GcnHiddenSize = 8,
        AttentionHeads = 2,
        GcnDropout = 0,
        Seed = 5,
    };

    private static MagDiObjectiveInput Input(ToyStudent student, ToyBatch batch, GraphBatch? graphs = null)
    {
        var (ids, mask, target) = batch.Encode(leftPadding: false);
        var (hidden, logits) = student.Forward(ids);
        var (linearIds, linearMask, spans) = batch.Linearize();
        var (linearHidden, _) = student.Forward(linearIds);
        return new MagDiObjectiveInput
        {
            Logits = logits,
            Labels = NextTokenLoss.BuildLabels(ids, mask, target),
            NodeRepresentations = SequencePooling.PositionWeightedMean(hidden, mask),
            Graphs = graphs ?? GraphBatch.BlockDiagonal(batch.Graphs),
            Tokens = new LinearizedGraphStates(linearHidden, linearMask, spans),
            PairingRandom = new Random(11),
        };
    }

    [Theory]
    [InlineData(GraphHeadKind.Gcn, "gcn.")]
    [InlineData(GraphHeadKind.NodeAttention, "node_attention.")]
    [InlineData(GraphHeadKind.TokenAttention, "token_attention.")]
    public void EachHead_HasItsOwnStateDictKeys_AndOnlyItsHeadIsCreated(GraphHeadKind kind, string prefix)
    {
        using var objective = new MagDiObjective(Options(kind));
        string[] heads = [.. objective.state_dict().Keys.Where(k => !k.StartsWith("scorer.", StringComparison.Ordinal))];

        Assert.NotEmpty(heads);
        Assert.All(heads, k => Assert.StartsWith(prefix, k, StringComparison.Ordinal));
        Assert.Equal(kind, objective.GraphHead!.Kind);
        Assert.Equal(kind == GraphHeadKind.Gcn, objective.NodeClassifier is not null);
        if (kind != GraphHeadKind.Gcn)
        {
            Assert.Contains(prefix + "attn1.q_proj.weight", heads);
            Assert.Contains(prefix + "classifier.weight", heads);
        }
    }

    [Fact]
    public void DefaultHead_IsTheGcn_AndGivesTheSameLossAsBefore()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(1, [C, I, C], [C, I, I, I, C, I]);
        random.manual_seed(3);
        using var byDefault = new MagDiObjective(new MagDiObjectiveOptions { HiddenSize = D, GcnHiddenSize = 8, GcnDropout = 0 });
        random.manual_seed(3);
        using var gcn = new MagDiObjective(new MagDiObjectiveOptions { HiddenSize = D, GcnHiddenSize = 8, GcnDropout = 0, GraphHead = GraphHeadKind.Gcn });
        MagDiObjectiveInput input = Input(student, batch);

        Assert.Equal(GraphHeadKind.Gcn, byDefault.Options.GraphHead);
        Assert.Equal(gcn.forward(input).Report.Node, byDefault.forward(input).Report.Node);
        // The GCN's node loss, from the GCN module itself.
        Tensor logits = byDefault.NodeClassifier!.Classify(input.NodeRepresentations!, input.Graphs!);
        Assert.Equal(NodeClassificationLoss.Compute(logits, input.Graphs!.LabelsTensor()).Loss.item<float>(), byDefault.forward(input).Report.Node, 6);
    }

    [Theory]
    [InlineData(GraphHeadKind.NodeAttention)]
    [InlineData(GraphHeadKind.TokenAttention)]
    public void AttentionHeads_GiveTheNodeLossOfTheirOwnLogits(GraphHeadKind kind)
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(2, [C, I, C], [C, I, I, I, C, I]);
        using var objective = new MagDiObjective(Options(kind));
        objective.eval();
        MagDiObjectiveInput input = Input(student, batch);

        MagDiLoss loss = objective.forward(input);

        Tensor logits = objective.GraphHead!.Classify(new GraphHeadInput { Graphs = input.Graphs!, NodeFeatures = input.NodeRepresentations, Tokens = input.Tokens });
        Assert.Equal(NodeClassificationLoss.Compute(logits, input.Graphs!.LabelsTensor()).Loss.item<float>(), loss.Report.Node, 6);
        Assert.Equal(9, loss.Report.Metrics[LossReport.Keys.NodeCount]);
    }

    [Fact]
    public void TokenHead_WithoutTokens_OrWithBetaAndNoRepresentations_IsNamed()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(3, [C, I, C]);
        MagDiObjectiveInput full = Input(student, batch);
        using var objective = new MagDiObjective(Options(GraphHeadKind.TokenAttention));

        var noTokens = new MagDiObjectiveInput { Logits = full.Logits, Labels = full.Labels, NodeRepresentations = full.NodeRepresentations, Graphs = full.Graphs };
        Assert.Contains("GraphHead TokenAttention", Assert.Throws<ArgumentException>(() => objective.forward(noTokens)).Message);

        // Without the margin term, the token head needs no pooled node representations.
        using var nodeOnly = new MagDiObjective(Options(GraphHeadKind.TokenAttention, beta: 0));
        var tokensOnly = new MagDiObjectiveInput { Logits = full.Logits, Labels = full.Labels, Graphs = full.Graphs, Tokens = full.Tokens };
        Assert.True(nodeOnly.forward(tokensOnly).Report.Node > 0);
    }

    [Fact]
    public void AttentionOptions_AreValidatedWithEveryOtherProblem()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => new MagDiObjective(new MagDiObjectiveOptions
        {
            HiddenSize = 0,
            GraphHead = GraphHeadKind.NodeAttention,
            GcnHiddenSize = 10,
            AttentionHeads = 4,
        }));
        Assert.Contains("HiddenSize must be at least 1", ex.Message);
        Assert.Contains("GcnHiddenSize (10) must be a multiple of AttentionHeads (4) for GraphHead NodeAttention", ex.Message);
        Assert.Contains("GraphHead '7'", Assert.Throws<OptionsValidationException>(() => new MagDiObjective(new MagDiObjectiveOptions { HiddenSize = 4, GraphHead = (GraphHeadKind)7 })).Message);
    }

    /// <summary>The whole objective's gradient with respect to the student's trainable weights, through each attention head.</summary>
    [Theory]
    [InlineData(GraphHeadKind.NodeAttention)]
    [InlineData(GraphHeadKind.TokenAttention)]
    public void Gradients_MatchFiniteDifferences(GraphHeadKind kind)
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(4, ScalarType.Float64);
        var batch = ToyBatch.Create(12, [C, I, C], [I, C, I, C]);
        MagDiObjectiveOptions options = Options(kind, beta: 1, hidden: 4);
        options.Weights = new MagDiLossWeights(0.5, 1, 0.5);
        options.GcnHiddenSize = 4;
        options.Margin = 3;   // keeps every pair inside the hinge
        using var objective = new MagDiObjective(options);
        objective.to(ScalarType.Float64);
        objective.eval();
        var (ids, mask, target) = batch.Encode(leftPadding: true);
        Tensor labels = NextTokenLoss.BuildLabels(ids, mask, target);
        var (linearIds, linearMask, spans) = batch.Linearize();
        GraphBatch graphs = GraphBatch.BlockDiagonal(batch.Graphs);
        Tensor lora = student.Lora.weight!;
        Tensor head = objective.named_parameters().First(p => p.name.EndsWith("attn1.k_proj.weight", StringComparison.Ordinal)).parameter;

        GradCheck.AssertGradients(
            () =>
            {
                var (hidden, logits) = student.Forward(ids);
                var (linearHidden, _) = student.Forward(linearIds);
                return objective.forward(new MagDiObjectiveInput
                {
                    Logits = logits,
                    Labels = labels,
                    NodeRepresentations = SequencePooling.PositionWeightedMean(hidden, mask),
                    Graphs = graphs,
                    Tokens = new LinearizedGraphStates(linearHidden, linearMask, spans),
                    PairingRandom = new Random(3),
                }).Total;
            },
            [lora, head]);
    }

    [Theory]
    [InlineData(GraphHeadKind.NodeAttention)]
    [InlineData(GraphHeadKind.TokenAttention)]
    public void NodeLossGradient_ReachesTheStudentInLiveModeOnly(GraphHeadKind kind)
    {
        double LoraGradient(NodeFeatureSource source)
        {
            using var scope = NewDisposeScope();
            using var student = new ToyStudent(D);
            var batch = ToyBatch.Create(6, [C, I, C, I]);
            MagDiObjectiveOptions options = Options(kind, beta: 0);
            options.Weights = new MagDiLossWeights(1e-6, 0, 1);
            options.NodeFeatures = source;
            using var objective = new MagDiObjective(options);
            MagDiObjectiveInput input = Input(student, batch);
            var onlyNodeTerm = new MagDiObjectiveInput { Graphs = input.Graphs, NodeRepresentations = input.NodeRepresentations, Tokens = input.Tokens, Logits = input.Logits, Labels = input.Labels!.zeros_like().fill_(-100) };
            objective.forward(onlyNodeTerm).Node.backward();
            return student.Lora.weight!.grad is null ? 0 : student.Lora.weight.grad.abs().sum().item<float>();
        }

        Assert.True(LoraGradient(NodeFeatureSource.Live) > 0);
        Assert.Equal(0.0, LoraGradient(NodeFeatureSource.Frozen));
    }
}
