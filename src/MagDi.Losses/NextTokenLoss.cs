using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>The result of <see cref="NextTokenLoss.Compute(Tensor, Tensor)"/> and its hidden-state overload.</summary>
public sealed class NextTokenLossResult
{
    internal NextTokenLossResult(Tensor loss, long tokenCount)
    {
        Loss = loss;
        TokenCount = tokenCount;
    }

    /// <summary>Scalar loss (float32 for half-precision logits), mean over the target tokens.</summary>
    public Tensor Loss { get; }

    /// <summary>Number of target tokens the mean is over (0 gives a loss of exactly 0).</summary>
    public long TokenCount { get; }
}

/// <summary>
/// Next-token cross-entropy on correct reasoning chains (paper equation 1), with the Hugging Face label convention:
/// labels are the input ids with <see cref="IgnoreIndex"/> at positions that are not targets; the shift by one happens inside.
/// </summary>
/// <remarks>
/// Reduction: the mean over all target tokens of the batch (every token weighs the same, as Hugging Face causal-LM losses
/// do). Equation 1 sums; the mean only rescales the gradient and keeps the learning rate independent of chain length and
/// batch size. Logits in bf16 or fp16 are converted to float32 for the log-softmax, only at target positions and one
/// block of rows at a time, so no float32 copy of the logits or their log-probabilities is kept for the backward.
/// </remarks>
public static class NextTokenLoss
{
    /// <summary>The label of positions that are not predicted (PyTorch's <c>ignore_index</c>).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>
    /// Builds labels from input ids: padding is always masked; prompt tokens are masked unless
    /// <paramref name="includePromptTokens"/> (the released code trains on the prompt too).
    /// </summary>
    /// <param name="inputIds">Token ids [B, T].</param>
    /// <param name="attentionMask">[B, T], 1 for tokens and 0 for padding.</param>
    /// <param name="targetMask">[B, T], 1 for tokens of the target part (the answer: reasoning, answer, EOS), 0 for the prompt.
    /// Ignored when <paramref name="includePromptTokens"/> is true; may then be null.</param>
    /// <param name="includePromptTokens">Train on prompt tokens too (the release's behaviour). Default false (the paper's).</param>
    /// <returns>int64 labels [B, T].</returns>
    /// <remarks>
    /// The first non-padding token of each row is never a target: nothing before it predicts it. This is what makes a
    /// left-padded and a right-padded batch give the same loss.
    /// </remarks>
    public static Tensor BuildLabels(Tensor inputIds, Tensor attentionMask, Tensor? targetMask, bool includePromptTokens = false)
    {
        TensorChecks.Rank(inputIds, 2, nameof(inputIds), "[B, T]");
        TensorChecks.Rank(attentionMask, 2, nameof(attentionMask), "[B, T]");
        if (!attentionMask.shape.SequenceEqual(inputIds.shape))
        {
            throw new ArgumentException($"attentionMask {TensorChecks.Shape(attentionMask)} must match inputIds {TensorChecks.Shape(inputIds)}.", nameof(attentionMask));
        }

        if (!includePromptTokens)
        {
            if (targetMask is null)
            {
                throw new ArgumentNullException(nameof(targetMask), "targetMask is required unless includePromptTokens is true: it marks the answer tokens to train on.");
            }

            if (!targetMask.shape.SequenceEqual(inputIds.shape))
            {
                throw new ArgumentException($"targetMask {TensorChecks.Shape(targetMask)} must match inputIds {TensorChecks.Shape(inputIds)}.", nameof(targetMask));
            }
        }

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        Tensor isToken = attentionMask.to(ScalarType.Bool);                                        // [B, T]
        Tensor previousIsToken = zeros_like(isToken);
        if (isToken.shape[1] > 1)
        {
            previousIsToken = cat([zeros_like(isToken.narrow(1, 0, 1)), isToken.narrow(1, 0, isToken.shape[1] - 1)], 1);
        }

        Tensor keep = isToken.logical_and(previousIsToken);
        if (!includePromptTokens)
        {
            keep = keep.logical_and(targetMask!.to(ScalarType.Bool));
        }

        Tensor labels = inputIds.to(ScalarType.Int64).MaskedFill(keep.logical_not(), IgnoreIndex);
        return labels.MoveToOuterDisposeScope();
    }

    /// <summary>Mean next-token cross-entropy over the target positions.</summary>
    /// <param name="logits">Student logits [B, T, V]; position t predicts token t + 1.</param>
    /// <param name="labels">Labels [B, T] (token ids, or <see cref="IgnoreIndex"/>), aligned with the input, not shifted.</param>
    /// <returns>The loss and the number of target tokens. With no target token the loss is an exact 0 connected to the logits.</returns>
    /// <exception cref="ArgumentException">The shapes do not match.</exception>
    public static NextTokenLossResult Compute(Tensor logits, Tensor labels)
    {
        TensorChecks.Rank(logits, 3, nameof(logits), "[B, T, V]");
        return Compute(logits, labels, nameof(logits), project: null);
    }

    /// <summary>
    /// Mean next-token cross-entropy computed from hidden states: only the K predicting positions are projected to the
    /// vocabulary, so the full [B, T, V] logits (prompt, padding and rows without targets included) are never formed.
    /// Equal to <see cref="Compute(Tensor, Tensor)"/> on <c>outputProjection(hiddenStates)</c>.
    /// </summary>
    /// <param name="hiddenStates">Final hidden states [B, T, d]; position t predicts token t + 1.</param>
    /// <param name="labels">Labels [B, T] (token ids, or <see cref="IgnoreIndex"/>), aligned with the input, not shifted.</param>
    /// <param name="outputProjection">The output head, [K, d] to [K, V] (for example <c>CausalLanguageModel.ComputeLogits</c>).</param>
    /// <returns>The loss and the number of target tokens. With no target token the loss is an exact 0 connected to the hidden states.</returns>
    /// <exception cref="ArgumentException">The shapes do not match.</exception>
    public static NextTokenLossResult Compute(Tensor hiddenStates, Tensor labels, Func<Tensor, Tensor> outputProjection)
    {
        TensorChecks.Rank(hiddenStates, 3, nameof(hiddenStates), "[B, T, d]");
        ArgumentNullException.ThrowIfNull(outputProjection);
        return Compute(hiddenStates, labels, nameof(hiddenStates), outputProjection);
    }

    /// <summary>Selects the rows of <paramref name="source"/> [B, T, X] that predict a target, projects them when asked, and averages the cross-entropy.</summary>
    private static NextTokenLossResult Compute(Tensor source, Tensor labels, string sourceName, Func<Tensor, Tensor>? project)
    {
        TensorChecks.Rank(labels, 2, nameof(labels), "[B, T]");
        if (labels.shape[0] != source.shape[0] || labels.shape[1] != source.shape[1])
        {
            throw new ArgumentException($"labels {TensorChecks.Shape(labels)} must match {sourceName} {TensorChecks.Shape(source)} in [B, T].", nameof(labels));
        }

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        ScalarType dtype = TensorChecks.ComputeType(source.dtype);
        long width = source.shape[2];
        long steps = source.shape[1] - 1;
        if (steps <= 0)
        {
            return new NextTokenLossResult(TensorChecks.ConnectedZero(source, dtype).MoveToOuterDisposeScope(), 0);
        }

        long length = source.shape[1];
        Tensor targets = labels.narrow(1, 1, steps).to(ScalarType.Int64);                 // [B, T-1], target of position t is label t+1
        Tensor at = targets.NotEqual(IgnoreIndex).nonzero();                                     // [K, 2] (row, position)
        long count = at.shape[0];
        if (count == 0)
        {
            return new NextTokenLossResult(TensorChecks.ConnectedZero(source, dtype).MoveToOuterDisposeScope(), 0);
        }

        Tensor row = at.select(1, 0);
        Tensor position = at.select(1, 1);
        // Gather only the K predicting rows of the (contiguous) source: no copy of the whole [B, T, X] tensor.
        Tensor flat = source.contiguous().view(-1, width);                                 // [B·T, X]
        Tensor picked = targets.reshape(-1).index_select(0, row.Times(steps).Plus(position)); // [K]
        Tensor rows = flat.index_select(0, row.Times(length).Plus(position));             // [K, X]
        Tensor loss = project is not null && source.device_type == DeviceType.CPU && dtype != source.dtype && count > ProjectionBlockRows
            ? ProjectInBlocks(rows, picked, project)
            : ChunkedCrossEntropy.Mean(project is null ? rows : project(rows), picked);    // [K, V] logits; float32 for half logits
        return new NextTokenLossResult(loss.MoveToOuterDisposeScope(), count);
    }

    /// <summary>Rows projected per block when half-precision hidden states are projected on the CPU.</summary>
    internal const long ProjectionBlockRows = 512;

    /// <summary>
    /// The mean cross-entropy of <paramref name="rows"/> [K, d] projected <see cref="ProjectionBlockRows"/> rows at a time:
    /// the same per-row values and mean as projecting all K at once, but no [K, V] logits tensor and no [K, V] gradient.
    /// In bf16 LoRA training on the CPU (2048 x 16000 logits, 65 MB) the single large tensors cost more than the head's
    /// product: each step mapped and zeroed fresh pages for them. Each block's logits stay for its backward, in pieces the
    /// allocator reuses. The gradient of a trainable head weight is the sum of the blocks' products (rounded per block in
    /// the weight's half dtype, as autograd accumulates it); every other value and gradient is unchanged (tested).
    /// </summary>
    private static Tensor ProjectInBlocks(Tensor rows, Tensor picked, Func<Tensor, Tensor> project)
    {
        long count = rows.shape[0];
        var losses = new List<Tensor>();
        for (long start = 0; start < count; start += ProjectionBlockRows)
        {
            long n = Math.Min(ProjectionBlockRows, count - start);
            losses.Add(ChunkedCrossEntropy.PerRow(project(rows.narrow(0, start, n)), picked.narrow(0, start, n)));  // [n]
        }

        return cat(losses, 0).mean();                                                        // the mean over all K, as before
    }
}
