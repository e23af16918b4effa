using MagDi.Graphs.Tests.Gcn;

namespace MagDi.Losses.Tests;

public class StepByStepLossTests
{
    /// <summary>
    /// Three rows: a label row (prompt 2 tokens, label target), a rationale row and another label row; labels of each task
    /// only on its own rows' targets.
    /// </summary>
    private static (Tensor Ids, Tensor LabelLabels, Tensor RationaleLabels) Batch()
    {
        long[,] ids =
        {
            { 3, 4, 9, 10, 1, 0, 0 },
            { 5, 6, 11, 12, 13, 14, 1 },
            { 3, 7, 8, 1, 0, 0, 0 },
        };
        int[] prompt = [2, 2, 2];
        int[] length = [5, 7, 4];
        bool[] isLabelRow = [true, false, true];
        var label = new long[3, 7];
        var rationale = new long[3, 7];
        for (int r = 0; r < 3; r++)
        {
            for (int t = 0; t < 7; t++)
            {
                bool target = t >= prompt[r] && t < length[r];
                label[r, t] = target && isLabelRow[r] ? ids[r, t] : NextTokenLoss.IgnoreIndex;
                rationale[r, t] = target && !isLabelRow[r] ? ids[r, t] : NextTokenLoss.IgnoreIndex;
            }
        }

        return (tensor(ids), tensor(label), tensor(rationale));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.25)]
    [InlineData(0.0)]
    public void Total_IsLabelLossPlusLambdaTimesRationaleLoss_EachAMeanOverItsOwnTargets(double lambda)
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(8);
        var (ids, label, rationale) = Batch();
        var (_, logits) = student.Forward(ids);

        StepByStepLossResult r = StepByStepLoss.Compute(logits, label, rationale, lambda);

        NextTokenLossResult l = NextTokenLoss.Compute(logits, label);
        NextTokenLossResult q = NextTokenLoss.Compute(logits, rationale);
        Assert.Equal(l.Loss.item<float>(), r.Label.item<float>(), 6);
        Assert.Equal(q.Loss.item<float>(), r.Rationale.item<float>(), 6);
        Assert.Equal(l.Loss.item<float>() + (lambda * q.Loss.item<float>()), r.Total.item<float>(), 5);
        Assert.Equal(5, r.LabelTokens);       // 3 + 2 target tokens of the two label rows
        Assert.Equal(5, r.RationaleTokens);
        Assert.NotEqual(r.Label.item<float>(), r.Rationale.item<float>());
    }

    [Fact]
    public void HiddenStateOverload_EqualsTheLogitsOverload()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(8);
        var (ids, label, rationale) = Batch();
        var (hidden, logits) = student.Forward(ids);

        double fromLogits = StepByStepLoss.Compute(logits, label, rationale, 0.5).Total.item<float>();
        double fromHidden = StepByStepLoss.Compute(hidden, label, rationale, student.Head.forward, 0.5).Total.item<float>();

        Assert.Equal(fromLogits, fromHidden, 5);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Compute_WithABadLambda_Throws(double lambda)
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(8);
        var (ids, label, rationale) = Batch();
        var (_, logits) = student.Forward(ids);

        var error = Assert.Throws<ArgumentException>(() => StepByStepLoss.Compute(logits, label, rationale, lambda));
        Assert.Contains("λ", error.Message);
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var student = new ToyStudent(4, ScalarType.Float64);
        var (ids, label, rationale) = Batch();
        Tensor lora = student.Lora.weight!;

        GradCheck.AssertGradients(
            () =>
            {
                var (hidden, _) = student.Forward(ids);
                return StepByStepLoss.Compute(hidden, label, rationale, student.Head.forward, 0.7).Total;
            },
            [lora]);
    }
}
