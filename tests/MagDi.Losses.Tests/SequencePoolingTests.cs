namespace MagDi.Losses.Tests;

public class SequencePoolingTests
{
    [Fact]
    public void PositionWeightedMean_WeighsLaterTokensMore()
    {
        using var scope = NewDisposeScope();
        Tensor hidden = tensor(new float[] { 1, 2, 3 }).reshape(1, 3, 1);
        Tensor mask = ones(1, 3);

        // weights 1, 2, 3: (1 + 4 + 9) / 6
        Assert.Equal(14f / 6f, SequencePooling.PositionWeightedMean(hidden, mask).item<float>(), 5);
        Assert.Equal(2f, SequencePooling.Mean(hidden, mask).item<float>(), 5);
    }

    [Fact]
    public void PositionWeights_AreCountedAmongNonPaddingTokens()
    {
        using var scope = NewDisposeScope();
        // Left padded: [pad=9, 1, 2]; right padded: [1, 2, pad=9]. Both are the sequence (1, 2) with weights 1, 2.
        Tensor left = tensor(new float[] { 9, 1, 2 }).reshape(1, 3, 1);
        Tensor right = tensor(new float[] { 1, 2, 9 }).reshape(1, 3, 1);

        float l = SequencePooling.PositionWeightedMean(left, tensor(new long[,] { { 0, 1, 1 } })).item<float>();
        float r = SequencePooling.PositionWeightedMean(right, tensor(new long[,] { { 1, 1, 0 } })).item<float>();

        Assert.Equal(5f / 3f, l, 5);
        Assert.Equal(5f / 3f, r, 5);
    }

    [Theory]
    [InlineData(PoolingKind.PositionWeightedMean)]
    [InlineData(PoolingKind.Mean)]
    public void LeftAndRightPadding_GiveTheSameRepresentation(PoolingKind kind)
    {
        using var scope = NewDisposeScope();
        int[] lengths = [5, 2, 7, 1];
        const int T = 8;
        const int D = 6;
        Tensor tokens = randn(lengths.Length, T, D);
        Tensor rightHidden = randn(lengths.Length, T, D) * 100;   // padding positions hold garbage
        Tensor leftHidden = randn(lengths.Length, T, D) * 100;
        Tensor rightMask = zeros(lengths.Length, T, dtype: ScalarType.Bool);
        Tensor leftMask = zeros(lengths.Length, T, dtype: ScalarType.Bool);
        for (int b = 0; b < lengths.Length; b++)
        {
            int n = lengths[b];
            rightHidden[b, TensorIndex.Slice(0, n)] = tokens[b, TensorIndex.Slice(0, n)];
            leftHidden[b, TensorIndex.Slice(T - n, T)] = tokens[b, TensorIndex.Slice(0, n)];
            rightMask[b, TensorIndex.Slice(0, n)] = true;
            leftMask[b, TensorIndex.Slice(T - n, T)] = true;
        }

        Tensor a = SequencePooling.Pool(rightHidden, rightMask, kind);
        Tensor c = SequencePooling.Pool(leftHidden, leftMask, kind);

        Assert.True(a.allclose(c, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void HalfPrecisionHidden_IsPooledInFloat32()
    {
        using var scope = NewDisposeScope();
        Tensor hidden = randn(2, 4, 3);
        Tensor mask = ones(2, 4);

        Tensor pooled = SequencePooling.PositionWeightedMean(hidden.to(ScalarType.BFloat16), mask);

        Assert.Equal(ScalarType.Float32, pooled.dtype);
        Assert.True(pooled.allclose(SequencePooling.PositionWeightedMean(hidden, mask), rtol: 2e-2, atol: 2e-2));
    }

    [Fact]
    public void AllPaddingRow_PoolsToZeroNotNaN()
    {
        using var scope = NewDisposeScope();
        Tensor pooled = SequencePooling.PositionWeightedMean(randn(2, 3, 4), tensor(new long[,] { { 1, 1, 0 }, { 0, 0, 0 } }));

        Assert.False(pooled.isnan().any().item<bool>());
        Assert.Equal(0f, pooled[1].abs().sum().item<float>());
    }

    [Theory]
    [InlineData(PoolingKind.PositionWeightedMean)]
    [InlineData(PoolingKind.Mean)]
    public void Gradients_MatchFiniteDifferences(PoolingKind kind)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = randn(2, 4, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor mask = tensor(new long[,] { { 0, 1, 1, 1 }, { 1, 1, 0, 0 } });
        Tensor probe = randn(2, 3, dtype: ScalarType.Float64);

        GradCheck.AssertGradients(() => (SequencePooling.Pool(hidden, mask, kind) * probe).sum(), [hidden]);
        // Padding positions get no gradient.
        Assert.Equal(0.0, hidden.grad![0, 0].abs().sum().item<double>());
    }

    [Fact]
    public void MismatchedShapes_AreRejected()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => SequencePooling.Mean(randn(2, 3, 4), ones(2, 4)));
        Assert.Contains("attentionMask", ex.Message);
        Assert.Throws<ArgumentException>(() => SequencePooling.Mean(randn(2, 3), ones(2, 3)));
    }
}
