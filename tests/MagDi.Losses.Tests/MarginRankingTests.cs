namespace MagDi.Losses.Tests;

public class MarginRankingTests
{
    [Fact]
    public void Compute_IsMeanHingeOverPairs()
    {
        using var scope = NewDisposeScope();
        Tensor sp = tensor(new float[] { 0.5f, -0.2f, 0.9f });
        Tensor sn = tensor(new float[] { 0.1f, 0.3f, -0.9f });

        MarginRankingLossResult r = MarginRankingLoss.Compute(sp, sn);

        // max(0, 1 - 0.5 + 0.1) = 0.6; max(0, 1 + 0.2 + 0.3) = 1.5; max(0, 1 - 0.9 - 0.9) = 0.
        Assert.Equal((0.6 + 1.5 + 0) / 3, r.Loss.item<float>(), 5);
        Assert.Equal(3, r.PairCount);
        Assert.Equal(2, r.CorrectlyOrdered);
        Assert.Equal(2.0 / 3.0, r.Accuracy!.Value, 10);
        float torchValue = nn.functional.margin_ranking_loss(sp, sn, ones(3), margin: 1.0).item<float>();
        Assert.Equal(torchValue, r.Loss.item<float>(), 6);
    }

    [Fact]
    public void Margin_IsConfigurable()
    {
        using var scope = NewDisposeScope();
        MarginRankingLossResult r = MarginRankingLoss.Compute(tensor(new float[] { 0.2f }), tensor(new float[] { 0.1f }), margin: 0.5);
        Assert.Equal(0.4, r.Loss.item<float>(), 5);
    }

    [Fact]
    public void NoPairs_GivesConnectedZeroNotNaN()
    {
        using var scope = NewDisposeScope();
        Tensor x = randn(4, 3).requires_grad_(true);
        Tensor scores = x.sum(1);
        Tensor none = zeros(0, dtype: ScalarType.Int64);

        MarginRankingLossResult r = MarginRankingLoss.Compute(scores.index_select(0, none), scores.index_select(0, none));

        Assert.Equal(0f, r.Loss.item<float>());
        Assert.Null(r.Accuracy);
        Assert.True(r.Loss.requires_grad);
        r.Loss.backward();
        Assert.Equal(0f, x.grad!.abs().sum().item<float>());
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        // Away from the hinge's kink: first pair active, second inactive.
        Tensor sp = tensor(new double[] { 0.3, 0.9 }).requires_grad_(true);
        Tensor sn = tensor(new double[] { 0.1, -0.8 }).requires_grad_(true);

        GradCheck.AssertGradients(() => MarginRankingLoss.Compute(sp, sn).Loss, [sp, sn]);
    }

    [Fact]
    public void Scorer_GivesOneScoreInMinusOneToOnePerRow_WithStableKeys()
    {
        using var scope = NewDisposeScope();
        using var scorer = new ContrastiveScorer(16);

        Tensor s = scorer.forward(randn(5, 16) * 50);

        Assert.Equal([5L], s.shape);
        Assert.True(s.abs().max().item<float>() <= 1f);
        Assert.Equal(["dense.bias", "dense.weight", "out_proj.bias", "out_proj.weight"], scorer.state_dict().Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ScorerAndLoss_GradientsMatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var scorer = new ContrastiveScorer(4);
        scorer.to(ScalarType.Float64);
        Tensor reps = randn(4, 4, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor pos = tensor(new long[] { 0, 1 });
        Tensor neg = tensor(new long[] { 2, 3 });

        // Margin 3 keeps every pair inside the hinge (scores are in [-1, 1]).
        GradCheck.AssertGradients(
            () =>
            {
                Tensor s = scorer.forward(reps);
                return MarginRankingLoss.Compute(s.index_select(0, pos), s.index_select(0, neg), margin: 3).Loss;
            },
            [reps, .. scorer.parameters()]);
    }

    [Fact]
    public void MismatchedPairs_AreRejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => MarginRankingLoss.Compute(zeros(3), zeros(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => MarginRankingLoss.Compute(zeros(1), zeros(1), double.NaN));
    }
}
