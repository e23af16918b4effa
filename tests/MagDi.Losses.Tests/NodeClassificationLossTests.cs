namespace MagDi.Losses.Tests;

public class NodeClassificationLossTests
{
    [Fact]
    public void Compute_IsMeanCrossEntropyOverLabelledNodes()
    {
        using var scope = NewDisposeScope();
        Tensor logits = tensor(new float[,] { { 0, 0 }, { MathF.Log(3), 0 }, { 9, -9 } });
        Tensor labels = tensor(new long[] { 1, 0, NodeLabels.Ignore });

        NodeClassificationLossResult r = NodeClassificationLoss.Compute(logits, labels);

        Assert.Equal((Math.Log(2) + Math.Log(4.0 / 3.0)) / 2, r.Loss.item<float>(), 5);
        Assert.Equal(2, r.NodeCount);
        // Node 0 ties (arg-max picks class 0, label 1: wrong); node 1 is right.
        Assert.Equal(1, r.CorrectlyClassified);
        Assert.Equal(0.5, r.Accuracy);
    }

    [Fact]
    public void LabelOutsideClasses_IsRejectedNamingTheNode()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => NodeClassificationLoss.Compute(zeros(3, 2), tensor(new long[] { 0, 2, 1 })));
        Assert.Contains("Node 1 has label 2", ex.Message);
    }

    [Fact]
    public void NoLabelledNodes_GivesZeroNotNaN()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(2, 3).requires_grad_(true);
        NodeClassificationLossResult r = NodeClassificationLoss.Compute(logits, full(2, (long)NodeLabels.Ignore, dtype: ScalarType.Int64));

        Assert.Equal(0f, r.Loss.item<float>());
        Assert.Null(r.Accuracy);
        r.Loss.backward();
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(5, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor labels = tensor(new long[] { 0, 2, NodeLabels.Ignore, 1, 1 });

        GradCheck.AssertGradients(() => NodeClassificationLoss.Compute(logits, labels).Loss, [logits]);
    }
}
