using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>The output of <see cref="MagDiObjective"/>: the loss tensors (for backward) and their numbers.</summary>
public sealed class MagDiLoss
{
    internal MagDiLoss(Tensor total, Tensor nll, Tensor margin, Tensor node, IReadOnlyList<(int Positive, int Negative)> pairs, LossReport report)
    {
        Total = total;
        Nll = nll;
        Margin = margin;
        Node = node;
        Pairs = pairs;
        Report = report;
    }

    /// <summary>The scalar to call <c>backward()</c> on: α·L+ + β·L− + γ·L_I.</summary>
    public Tensor Total { get; }

    /// <summary>Unweighted next-token loss L+ (a constant 0 when not computed).</summary>
    public Tensor Nll { get; }

    /// <summary>Unweighted margin-ranking loss L− (a constant 0 when not computed).</summary>
    public Tensor Margin { get; }

    /// <summary>Unweighted node-classification loss L_I (a constant 0 when not computed).</summary>
    public Tensor Node { get; }

    /// <summary>The (positive, negative) pairs used, as rows of the node representations.</summary>
    public IReadOnlyList<(int Positive, int Negative)> Pairs { get; }

    /// <summary>The numbers, slash-named.</summary>
    public LossReport Report { get; }
}
