using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>The result of <see cref="StepByStepLoss.Compute(Tensor, Tensor, Tensor, Func{Tensor, Tensor}, double)"/>.</summary>
public sealed class StepByStepLossResult
{
    internal StepByStepLossResult(Tensor total, Tensor label, Tensor rationale, long labelTokens, long rationaleTokens)
    {
        Total = total;
        Label = label;
        Rationale = rationale;
        LabelTokens = labelTokens;
        RationaleTokens = rationaleTokens;
    }

    /// <summary>L = L_label + λ·L_rationale, the scalar to call <c>backward()</c> on.</summary>
    public Tensor Total { get; }

    /// <summary>Unweighted label-prediction loss L_label (mean over the label task's target tokens).</summary>
    public Tensor Label { get; }

    /// <summary>Unweighted rationale-generation loss L_rationale (mean over the rationale task's target tokens).</summary>
    public Tensor Rationale { get; }

    /// <summary>Target tokens of the label task.</summary>
    public long LabelTokens { get; }

    /// <summary>Target tokens of the rationale task.</summary>
    public long RationaleTokens { get; }
}

/// <summary>
/// The multi-task objective of Distilling Step-by-Step (Hsieh et al., 2023): the student learns two separate tasks, told
/// apart by a task prefix in the input, <see cref="LabelPrefix"/> (predict the answer) and <see cref="RationalePrefix"/>
/// (generate the teacher's rationale), with L = L_label + λ·L_rationale. MAGDi's Table 1 applies it to the nodes of all
/// teachers (DSS-MT).
/// </summary>
/// <remarks>
/// Both terms are next-token losses (<see cref="NextTokenLoss"/>) over the rows of one batch: label rows carry labels only
/// in <c>labelLabels</c>, rationale rows only in <c>rationaleLabels</c> (<see cref="NextTokenLoss.IgnoreIndex"/> elsewhere),
/// so one forward of the student serves both. Each term is the mean over its own target tokens, so λ weighs the tasks and
/// not their lengths: rationales are many times longer than labels. At test time only the label task is used: the student
/// is prompted with <see cref="LabelPrefix"/> and answers without a rationale, as in the paper.
/// </remarks>
public static class StepByStepLoss
{
    /// <summary>The label task's prefix, as in the paper's figure: <c>[label]</c>.</summary>
    public const string LabelPrefix = "[label]";

    /// <summary>The rationale task's prefix: <c>[rationale]</c>.</summary>
    public const string RationalePrefix = "[rationale]";

    /// <summary>λ of Hsieh et al.: 1, the two tasks weigh the same (their code's α = 0.5 on both terms is the same ratio).</summary>
    internal const double DefaultRationaleWeight = 1.0;

    /// <summary>Computes L = L_label + λ·L_rationale from logits.</summary>
    /// <param name="logits">Student logits [B, T, V].</param>
    /// <param name="labelLabels">[B, T] labels of the label task's targets (ids), <see cref="NextTokenLoss.IgnoreIndex"/> elsewhere.</param>
    /// <param name="rationaleLabels">[B, T] labels of the rationale task's targets, <see cref="NextTokenLoss.IgnoreIndex"/> elsewhere.</param>
    /// <param name="rationaleWeight">λ, at least 0. Default 1.</param>
    /// <returns>The total and both terms.</returns>
    /// <exception cref="ArgumentException">Shapes do not match, or λ is negative or not finite.</exception>
    public static StepByStepLossResult Compute(Tensor logits, Tensor labelLabels, Tensor rationaleLabels, double rationaleWeight = DefaultRationaleWeight)
    {
        ArgumentNullException.ThrowIfNull(logits);
        CheckWeight(rationaleWeight);
        return Combine(NextTokenLoss.Compute(logits, labelLabels), NextTokenLoss.Compute(logits, rationaleLabels), rationaleWeight);
    }

    /// <summary>
    /// Computes L = L_label + λ·L_rationale from hidden states, projecting only the target positions (see
    /// <see cref="NextTokenLoss.Compute(Tensor, Tensor, Func{Tensor, Tensor})"/>).
    /// </summary>
    /// <param name="hiddenStates">Final hidden states [B, T, d].</param>
    /// <param name="labelLabels">[B, T] labels of the label task's targets, <see cref="NextTokenLoss.IgnoreIndex"/> elsewhere.</param>
    /// <param name="rationaleLabels">[B, T] labels of the rationale task's targets, <see cref="NextTokenLoss.IgnoreIndex"/> elsewhere.</param>
    /// <param name="outputProjection">The output head, [K, d] to [K, V].</param>
    /// <param name="rationaleWeight">λ, at least 0. Default 1.</param>
    /// <returns>The total and both terms.</returns>
    /// <exception cref="ArgumentException">Shapes do not match, or λ is negative or not finite.</exception>
    public static StepByStepLossResult Compute(Tensor hiddenStates, Tensor labelLabels, Tensor rationaleLabels, Func<Tensor, Tensor> outputProjection, double rationaleWeight = DefaultRationaleWeight)
    {
        ArgumentNullException.ThrowIfNull(hiddenStates);
        CheckWeight(rationaleWeight);
        return Combine(
            NextTokenLoss.Compute(hiddenStates, labelLabels, outputProjection),
            NextTokenLoss.Compute(hiddenStates, rationaleLabels, outputProjection),
            rationaleWeight);
    }

    private static StepByStepLossResult Combine(NextTokenLossResult label, NextTokenLossResult rationale, double weight)
    {
        TorchRuntime.EnsureInitialized();
        Tensor total = label.Loss.Plus(rationale.Loss.Times(weight));
        return new StepByStepLossResult(total, label.Loss, rationale.Loss, label.TokenCount, rationale.TokenCount);
    }

    private static void CheckWeight(double weight)
    {
        if (!(weight >= 0) || !double.IsFinite(weight))
        {
            throw new ArgumentException($"The rationale weight λ must be a finite number >= 0 (got {weight}).", nameof(weight));
        }
    }
}
