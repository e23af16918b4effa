using Microsoft.Extensions.Options;

namespace MagDi.Losses.Tests;

public class MagDiObjectiveTests
{
    private const int C = NodeLabels.Correct;
    private const int I = NodeLabels.Incorrect;
    private const int D = 8;

    private static MagDiObjectiveOptions Options(double alpha = 1, double beta = 0.1, double gamma = 1, NodeFeatureSource source = NodeFeatureSource.Live) => new()
    {
        HiddenSize = D,
        Weights = new MagDiLossWeights(alpha, beta, gamma),
        GcnHiddenSize = 16,
        GcnDropout = 0,
        NodeFeatures = source,
        Seed = 5,
    };

    private static MagDiObjectiveInput Input(ToyStudent student, ToyBatch batch, bool leftPadding = false, int seed = 11, GraphBatch? graphs = null)
    {
        var (ids, mask, target) = batch.Encode(leftPadding);
        var (hidden, logits) = student.Forward(ids);
        return new MagDiObjectiveInput
        {
            Logits = logits,
            Labels = NextTokenLoss.BuildLabels(ids, mask, target),
            NodeRepresentations = SequencePooling.PositionWeightedMean(hidden, mask),
            Graphs = graphs ?? GraphBatch.BlockDiagonal(batch.Graphs),
            PairingRandom = new Random(seed),
        };
    }

    [Fact]
    public void Total_IsTheWeightedSumOfTheThreeTerms()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(1, [C, I, C], [C, I, I, I, C, I], [C, C, C]);
        using var objective = new MagDiObjective(Options(alpha: 0.7, beta: 0.4, gamma: 0.9));
        objective.eval();
        MagDiObjectiveInput input = Input(student, batch);

        MagDiLoss loss = objective.forward(input);

        // The same terms from the building blocks, with the same pairs.
        double nll = NextTokenLoss.Compute(input.Logits!, input.Labels!).Loss.item<float>();
        Tensor scores = objective.Scorer!.forward(input.NodeRepresentations!);
        var pairs = MagDiObjective.FormPairs(input.Graphs!, PairingStrategy.Paper, new Random(11));
        Tensor pos = tensor(pairs.Select(p => (long)p.Positive).ToArray());
        Tensor neg = tensor(pairs.Select(p => (long)p.Negative).ToArray());
        double margin = MarginRankingLoss.Compute(scores.index_select(0, pos), scores.index_select(0, neg)).Loss.item<float>();
        Tensor nodeLogits = objective.NodeClassifier!.Classify(input.NodeRepresentations!, input.Graphs!);
        double node = NodeClassificationLoss.Compute(nodeLogits, input.Graphs!.LabelsTensor()).Loss.item<float>();

        Assert.Equal(pairs, loss.Pairs);
        Assert.Equal(nll, loss.Report.Nll, 5);
        Assert.Equal(margin, loss.Report.Margin, 5);
        Assert.Equal(node, loss.Report.Node, 5);
        Assert.Equal((0.7 * nll) + (0.4 * margin) + (0.9 * node), loss.Total.item<float>(), 4);
        Assert.Equal(loss.Total.item<float>(), loss.Report.Total, 5);
    }

    [Fact]
    public void HiddenStatesWithOutputProjection_GiveTheSameLossAsLogits()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(1, [C, I, C], [C, I, I, I, C, I], [C, C, C]);
        using var objective = new MagDiObjective(Options());
        objective.eval();
        MagDiObjectiveInput withLogits = Input(student, batch);
        var (ids, _, _) = batch.Encode(leftPadding: false);
        var (hidden, _) = student.Forward(ids);
        var withHidden = new MagDiObjectiveInput
        {
            HiddenStates = hidden,
            OutputProjection = student.Head.forward,
            Labels = withLogits.Labels,
            NodeRepresentations = withLogits.NodeRepresentations,
            Graphs = withLogits.Graphs,
            PairingRandom = new Random(11),
        };

        MagDiLoss a = objective.forward(withLogits);
        MagDiLoss b = objective.forward(withHidden);

        Assert.Equal(a.Report.Nll, b.Report.Nll, 5);
        Assert.Equal(a.Total.item<float>(), b.Total.item<float>(), 5);
        var missing = new MagDiObjectiveInput { HiddenStates = hidden, Labels = withLogits.Labels, NodeRepresentations = withLogits.NodeRepresentations, Graphs = withLogits.Graphs };
        Assert.Contains("HiddenStates with OutputProjection", Assert.Throws<ArgumentException>(() => objective.forward(missing)).Message);
    }

    [Fact]
    public void Report_HasSlashNamedMetrics()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(2, [C, I, C], [I, I, C, C, C, I]);
        using var objective = new MagDiObjective(Options());

        LossReport report = objective.forward(Input(student, batch)).Report;

        foreach (string key in new[] { "loss/total", "loss/nll", "loss/margin", "loss/node", "margin/accuracy", "node/accuracy" })
        {
            Assert.True(report.Metrics.ContainsKey(key), key);
            Assert.True(double.IsFinite(report.Metrics[key]), key);
        }

        // Paper pairing: max(2, 1) = 2 pairs in graph 0, max(3, 3) = 3 in graph 1.
        Assert.Equal(5, report.Metrics[LossReport.Keys.MarginPairs]);
        Assert.Equal(9, report.Metrics[LossReport.Keys.NodeCount]);
        Assert.InRange(report.MarginAccuracy!.Value, 0, 1);
        Assert.InRange(report.NodeAccuracy!.Value, 0, 1);
    }

    [Fact]
    public void PairsStayInsideTheirGraphAndPairCorrectWithIncorrect()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(3, [C, I, I], [C, C, C, C, C, I, I, C, C], [I, I, I]);
        using var objective = new MagDiObjective(Options(gamma: 0));
        MagDiObjectiveInput input = Input(student, batch);
        int[] labels = batch.Graphs.SelectMany(g => g.Labels).ToArray();
        IReadOnlyList<int> graphOf = input.Graphs!.Batch;

        MagDiLoss loss = objective.forward(input);

        Assert.Equal(2 + 7, loss.Pairs.Count);
        Assert.All(loss.Pairs, p =>
        {
            Assert.Equal(C, labels[p.Positive]);
            Assert.Equal(I, labels[p.Negative]);
            Assert.Equal(graphOf[p.Positive], graphOf[p.Negative]);
        });
    }

    [Fact]
    public void FormPairs_FromNodeMetadata_GroupsByGraphAndSkipsOtherLabels()
    {
        int[] graphOf = [4, 4, 7, 4, 7, 7, 9];
        int[] labels = [C, I, I, NodeLabels.Ignore, C, C, C];

        var pairs = MagDiObjective.FormPairs(graphOf, labels, PairingStrategy.Cyclic, new Random(0));

        Assert.Equal([(0, 1), (4, 2), (5, 2)], pairs);
        Assert.Throws<ArgumentException>(() => MagDiObjective.FormPairs([0, 0], [C], PairingStrategy.Paper, new Random(0)));
    }

    [Fact]
    public void BatchWithoutPairs_GivesZeroMarginNotNaN_AndStillTrains()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(4, [C, C, C], [I, I, I, I, I, I]);
        using var objective = new MagDiObjective(Options());

        MagDiLoss loss = objective.forward(Input(student, batch));

        Assert.Empty(loss.Pairs);
        Assert.Equal(0.0, loss.Report.Margin);
        Assert.Null(loss.Report.MarginAccuracy);
        Assert.True(double.IsFinite(loss.Report.Total));
        loss.Total.backward();
        Assert.False(student.Lora.weight!.grad!.isnan().any().item<bool>());
    }

    [Fact]
    public void NodeLossGradient_ReachesTheStudentInLiveModeOnly()
    {
        using var scope = NewDisposeScope();
        var batch = ToyBatch.Create(5, [C, I, C], [I, C, I, C, C, I]);

        double LoraGradient(NodeFeatureSource source, bool precomputed)
        {
            using var student = new ToyStudent(D);
            using var objective = new MagDiObjective(Options(alpha: 0, beta: 0, gamma: 1, source: source));
            MagDiObjectiveInput input = Input(student, batch);
            if (precomputed)
            {
                input = new MagDiObjectiveInput
                {
                    NodeRepresentations = input.NodeRepresentations,
                    Graphs = input.Graphs,
                    FrozenNodeFeatures = randn(batch.NodeCount, D),
                };
            }

            MagDiLoss loss = objective.forward(input);
            loss.Total.backward();
            double head = objective.NodeClassifier!.parameters().Sum(p => p.grad is null ? 0 : p.grad.abs().sum().item<float>());
            Assert.True(head > 0, "the GCN head itself always trains");
            Tensor? g = student.Lora.weight!.grad;
            return g is null ? 0 : g.abs().sum().item<float>();
        }

        Assert.True(LoraGradient(NodeFeatureSource.Live, precomputed: false) > 0);
        Assert.Equal(0.0, LoraGradient(NodeFeatureSource.Frozen, precomputed: false));
        Assert.Equal(0.0, LoraGradient(NodeFeatureSource.Frozen, precomputed: true));
    }

    [Fact]
    public void LeftAndRightPadding_GiveTheSameLosses()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(6, [C, I, C], [C, I, I, I, C, I], [I, C, C, C, I, C, C, I, C, C, I, I]);
        using var objective = new MagDiObjective(Options());
        objective.eval();

        LossReport right = objective.forward(Input(student, batch, leftPadding: false)).Report;
        LossReport left = objective.forward(Input(student, batch, leftPadding: true)).Report;

        Assert.Equal(right.Nll, left.Nll, 5);
        Assert.Equal(right.Margin, left.Margin, 5);
        Assert.Equal(right.Node, left.Node, 5);
        Assert.Equal(right.Total, left.Total, 5);
    }

    [Fact]
    public void ReleaseCompatibleMode_PadsGraphsAndClassifiesMissingNodes()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(7, [C, I, C], [C, I, I, I, C, I]);
        MagDiObjectiveOptions options = Options();
        options.NodeClasses = 3;
        options.Normalization = GcnNormalizationKind.Symmetric;
        options.Pairing = PairingStrategy.Cyclic;
        options.Weights = MagDiLossWeights.Release;
        using var objective = new MagDiObjective(options);

        MagDiLoss loss = objective.forward(Input(student, batch, graphs: GraphBatch.Padded(batch.Graphs)));

        Assert.Equal(24, loss.Report.Metrics[LossReport.Keys.NodeCount]);   // padded nodes are classified as "missing"
        Assert.True(double.IsFinite(loss.Report.Total));

        using var twoClasses = new MagDiObjective(Options());
        var ex = Assert.Throws<ArgumentException>(() => twoClasses.forward(Input(student, batch, graphs: GraphBatch.Padded(batch.Graphs))));
        Assert.Contains("NodeClasses = 3", ex.Message);
    }

    [Fact]
    public void ZeroWeightTerms_AreNotComputedAndTheirHeadsNotCreated()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(8, [C, I, C]);
        using var objective = new MagDiObjective(Options(alpha: 1, beta: 0, gamma: 0));
        MagDiObjectiveInput full = Input(student, batch);

        MagDiLoss loss = objective.forward(new MagDiObjectiveInput { Logits = full.Logits, Labels = full.Labels });

        Assert.Null(objective.Scorer);
        Assert.Null(objective.NodeClassifier);
        Assert.Empty(objective.state_dict());
        Assert.Equal(loss.Report.Nll, loss.Report.Total, 6);
        Assert.Equal(0.0, loss.Report.Margin);
        Assert.Null(loss.Report.NodeAccuracy);
    }

    [Fact]
    public void HeadsHaveStableStateDictKeys()
    {
        using var objective = new MagDiObjective(Options());
        string[] keys = objective.state_dict().Keys.Order(StringComparer.Ordinal).ToArray();

        Assert.Contains("scorer.dense.weight", keys);
        Assert.Contains("gcn.conv1.lin.weight", keys);
        Assert.Contains("gcn.classifier.weight", keys);
    }

    [Fact]
    public void MissingInputs_AreReportedClearly()
    {
        using var scope = NewDisposeScope();
        using var objective = new MagDiObjective(Options());
        Assert.Contains("Logits", Assert.Throws<ArgumentException>(() => objective.forward(new MagDiObjectiveInput())).Message);

        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(9, [C, I, C]);
        MagDiObjectiveInput full = Input(student, batch);
        var noGraphs = new MagDiObjectiveInput { Logits = full.Logits, Labels = full.Labels, NodeRepresentations = full.NodeRepresentations };
        Assert.Contains("Graphs", Assert.Throws<ArgumentException>(() => objective.forward(noGraphs)).Message);

        var wrongRows = new MagDiObjectiveInput { Logits = full.Logits, Labels = full.Labels, NodeRepresentations = randn(5, D), Graphs = full.Graphs };
        Assert.Contains("[3, d]", Assert.Throws<ArgumentException>(() => objective.forward(wrongRows)).Message);
    }

    [Fact]
    public void Weights_AreValidatedInZeroToOne()
    {
        var defaults = new MagDiLossWeights();
        Assert.Equal((1.0, 0.1, 1.0), (defaults.Alpha, defaults.Beta, defaults.Gamma));
        var ex = Assert.Throws<OptionsValidationException>(() => new MagDiLossWeights(1.5, -0.1, double.NaN).Validate());
        Assert.Equal(3, ex.Failures.Count());
        Assert.Contains(ex.Failures, f => f.StartsWith("Alpha", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Beta", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Gamma", StringComparison.Ordinal));
        Assert.Single(Assert.Throws<OptionsValidationException>(() => new MagDiLossWeights(0, 0, 0).Validate()).Failures);
        var options = Assert.Throws<OptionsValidationException>(() => new MagDiObjective(new MagDiObjectiveOptions { HiddenSize = 0, Weights = new MagDiLossWeights(2, 0, 0) }));
        Assert.Equal(typeof(MagDiObjectiveOptions), options.OptionsType);
        Assert.Equal(2, options.Failures.Count());
        Assert.Contains(options.Failures, f => f.StartsWith("HiddenSize", StringComparison.Ordinal));
        Assert.Contains(options.Failures, f => f.StartsWith("Alpha", StringComparison.Ordinal));
    }

    [Fact]
    public void Pairing_IsDeterministicForTheSameRandomSeed()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(10, [C, I, I, I, I, I, I, I, I, I, I, I]);
        using var objective = new MagDiObjective(Options(gamma: 0));

        var a = objective.forward(Input(student, batch, seed: 1)).Pairs;
        var b = objective.forward(Input(student, batch, seed: 1)).Pairs;

        Assert.Equal(a, b);
        Assert.Equal(11, a.Count);
    }

    [Fact]
    public void AdamSteps_OnLoraAndHeads_LowerEveryTerm()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(D);
        var batch = ToyBatch.Create(13, [C, I, C], [C, I, I, I, C, I], [I, C, C, C, I, C, C, I, C]);
        using var objective = new MagDiObjective(Options(alpha: 1, beta: 1, gamma: 1));
        var parameters = objective.parameters().Concat(student.Lora.parameters()).ToList();
        using var adam = optim.Adam(parameters, lr: 0.01);

        LossReport Step(bool update)
        {
            using var stepScope = NewDisposeScope();
            adam.zero_grad();
            MagDiLoss loss = objective.forward(Input(student, batch, seed: 0));
            if (update)
            {
                loss.Total.backward();
                adam.step();
            }

            return loss.Report;
        }

        LossReport before = Step(update: false);
        for (int i = 0; i < 60; i++)
        {
            Step(update: true);
        }

        LossReport after = Step(update: false);

        Assert.True(after.Nll < before.Nll, $"nll {before.Nll} -> {after.Nll}");
        Assert.True(after.Margin < before.Margin, $"margin {before.Margin} -> {after.Margin}");
        Assert.True(after.Node < before.Node, $"node {before.Node} -> {after.Node}");
        Assert.InRange(after.NodeAccuracy!.Value, 0.0, 1.0);
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(4, ScalarType.Float64);
        var batch = ToyBatch.Create(12, [C, I, C], [I, C, I, C]);
        MagDiObjectiveOptions options = Options(alpha: 0.5, beta: 1, gamma: 0.5);
        options.HiddenSize = 4;
        options.GcnHiddenSize = 4;
        options.Margin = 3;   // keeps every pair inside the hinge
        using var objective = new MagDiObjective(options);
        objective.to(ScalarType.Float64);
        objective.eval();
        var (ids, mask, target) = batch.Encode(leftPadding: true);
        Tensor labels = NextTokenLoss.BuildLabels(ids, mask, target);
        GraphBatch graphs = GraphBatch.BlockDiagonal(batch.Graphs);
        Tensor lora = student.Lora.weight!;

        GradCheck.AssertGradients(
            () =>
            {
                var (hidden, logits) = student.Forward(ids);
                return objective.forward(new MagDiObjectiveInput
                {
                    Logits = logits,
                    Labels = labels,
                    NodeRepresentations = SequencePooling.PositionWeightedMean(hidden, mask),
                    Graphs = graphs,
                    PairingRandom = new Random(3),
                }).Total;
            },
            [lora]);
    }
}
