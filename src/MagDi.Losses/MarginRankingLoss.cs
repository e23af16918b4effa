using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>The result of <see cref="MarginRankingLoss.Compute"/>.</summary>
public sealed class MarginRankingLossResult
{
    internal MarginRankingLossResult(Tensor loss, int pairCount, int correctlyOrdered)
    {
        Loss = loss;
        PairCount = pairCount;
        CorrectlyOrdered = correctlyOrdered;
    }

    /// <summary>Scalar loss, mean over pairs (exactly 0, still connected to the scores, when there are no pairs).</summary>
    public Tensor Loss { get; }

    /// <summary>Number of pairs.</summary>
    public int PairCount { get; }

    /// <summary>Pairs with s+ &gt; s-.</summary>
    public int CorrectlyOrdered { get; }

    /// <summary>Fraction of pairs ranked right, or null without pairs.</summary>
    public double? Accuracy => PairCount == 0 ? null : (double)CorrectlyOrdered / PairCount;
}

/// <summary>
/// The margin-ranking loss of paper equation 2: mean over pairs of max(0, ρ − s+ + s−), the same as PyTorch's
/// <c>margin_ranking_loss(s+, s−, target = 1, margin = ρ)</c>.
/// </summary>
public static class MarginRankingLoss
{
    /// <summary>The paper's margin ρ = 1.</summary>
    internal const double DefaultMargin = 1.0;

    /// <summary>Computes the loss for aligned pairs of scores.</summary>
    /// <param name="positiveScores">Scores of the correct chains [P].</param>
    /// <param name="negativeScores">Scores of the paired incorrect chains [P].</param>
    /// <param name="margin">The margin ρ (default 1; the paper allows [-1, 1]).</param>
    /// <exception cref="ArgumentException">The score vectors differ in shape or the margin is not finite.</exception>
    public static MarginRankingLossResult Compute(Tensor positiveScores, Tensor negativeScores, double margin = DefaultMargin)
    {
        TensorChecks.Rank(positiveScores, 1, nameof(positiveScores), "[P]");
        TensorChecks.Rank(negativeScores, 1, nameof(negativeScores), "[P]");
        if (positiveScores.shape[0] != negativeScores.shape[0])
        {
            throw new ArgumentException($"negativeScores {TensorChecks.Shape(negativeScores)} must match positiveScores {TensorChecks.Shape(positiveScores)}.", nameof(negativeScores));
        }

        if (!double.IsFinite(margin))
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be a finite number.");
        }

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        ScalarType dtype = TensorChecks.ComputeType(positiveScores.dtype);
        Tensor sp = positiveScores.to(dtype);
        Tensor sn = negativeScores.to(dtype);
        int pairs = (int)sp.shape[0];
        Tensor hinge = nn.functional.relu(sp.SubtractedFrom(margin).Plus(sn)); // [P]: margin - sp + sn
        Tensor loss = hinge.sum().Over((long)Math.Max(pairs, 1));              // sum of no pairs is a connected 0
        int correct = pairs == 0 ? 0 : (int)sp.gt(sn).sum().item<long>();
        return new MarginRankingLossResult(loss.MoveToOuterDisposeScope(), pairs, correct);
    }
}
