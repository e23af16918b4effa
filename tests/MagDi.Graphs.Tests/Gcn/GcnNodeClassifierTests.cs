using MagDi.Graphs.Gcn;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Graphs.Tests.Gcn;

public class GcnNodeClassifierTests
{
    [Fact]
    public void Classify_BatchOfGraphsWithThreeToTwelveNodes_GivesOneRowPerNode()
    {
        using var scope = NewDisposeScope();
        using var head = new GcnNodeClassifier(new GcnNodeClassifierOptions { InputSize = 8, HiddenSize = 16 });
        GraphBatch batch = GraphBatch.BlockDiagonal(Enumerable.Range(3, 10).Select(n => TestGraphs.Layered(n)).ToArray());

        Tensor logits = head.Classify(randn(batch.RealNodeCount, 8), batch);

        Assert.Equal([75L, 2L], logits.shape);   // 3 + 4 + ... + 12 = 75
        Assert.False(logits.isnan().any().item<bool>());
    }

    [Fact]
    public void Defaults_FollowThePaper()
    {
        var options = new GcnNodeClassifierOptions { InputSize = 4 };
        Assert.Equal(512, options.HiddenSize);
        Assert.Equal(0.5, options.Dropout);
        Assert.Equal(2, options.Classes);
        Assert.Equal(GcnNormalizationKind.RowMean, options.Normalization);
        using var head = new GcnNodeClassifier(options);
        Assert.Equal(
            ["classifier.bias", "classifier.weight", "conv1.bias", "conv1.lin.weight", "conv2.bias", "conv2.lin.weight"],
            head.state_dict().Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Dropout_AppliesInTrainingModeOnly()
    {
        using var scope = NewDisposeScope();
        using var head = new GcnNodeClassifier(new GcnNodeClassifierOptions { InputSize = 6, HiddenSize = 64, Dropout = 0.5 });
        GraphBatch batch = GraphBatch.BlockDiagonal([TestGraphs.Layered(9)]);
        Tensor x = randn(9, 6);

        head.eval();
        Tensor a = head.Classify(x, batch);
        Tensor b = head.Classify(x, batch);
        Assert.True(a.eq(b).all().item<bool>());

        head.train();
        Tensor c = head.Classify(x, batch);
        Tensor d = head.Classify(x, batch);
        Assert.False(c.eq(d).all().item<bool>());
    }

    [Fact]
    public void ReleaseCompatibleHead_ClassifiesPaddedNodesAsThirdClass()
    {
        using var scope = NewDisposeScope();
        using var head = new GcnNodeClassifier(new GcnNodeClassifierOptions
        {
            InputSize = 4,
            HiddenSize = 8,
            Classes = 3,
            Normalization = GcnNormalizationKind.Symmetric,
        });
        GraphBatch batch = GraphBatch.Padded([TestGraphs.Layered(3), TestGraphs.Layered(9)]);

        Tensor logits = head.Classify(randn(12, 4), batch);

        Assert.Equal([24L, 3L], logits.shape);
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var head = new GcnNodeClassifier(new GcnNodeClassifierOptions { InputSize = 3, HiddenSize = 4, Dropout = 0 });
        head.to(ScalarType.Float64);
        head.eval();
        GraphBatch batch = GraphBatch.BlockDiagonal([TestGraphs.Layered(3), TestGraphs.Layered(4)]);
        using GcnAdjacency adj = batch.CreateAdjacency(GcnNormalizationKind.RowMean, ScalarType.Float64);
        Tensor x = randn(7, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor probe = randn(7, 2, dtype: ScalarType.Float64);

        GradCheck.AssertGradients(() => (head.forward(x, adj) * probe).sum(), [x]);
    }

    [Fact]
    public void InvalidOptions_AreAllReportedAtOnce()
    {
        var ex = Assert.Throws<ArgumentException>(() => new GcnNodeClassifier(new GcnNodeClassifierOptions
        {
            InputSize = 0,
            Dropout = 1.5,
            Classes = 1,
        }));
        Assert.Contains("InputSize", ex.Message);
        Assert.Contains("Dropout", ex.Message);
        Assert.Contains("Classes", ex.Message);
    }
}
