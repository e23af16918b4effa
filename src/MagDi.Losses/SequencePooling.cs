using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>
/// Reduces the student's last hidden states of a reasoning chain to one vector: the representation h_x used by the
/// contrastive scorer and as GCN node feature (paper section 3.4).
/// </summary>
/// <remarks>
/// Both poolings use only the non-padding tokens and count positions per row among them, so a left-padded and a
/// right-padded copy of the same sequence give the same result. Half-precision inputs (bf16, fp16) are pooled in float32
/// and returned as float32; other dtypes keep their own. A row with no non-padding token pools to a zero vector.
/// The attention mask holds 1 (token) or 0 (padding), as bool, integer or floating tensor.
/// </remarks>
public static class SequencePooling
{
    /// <summary>
    /// Position-weighted mean: h = Σ_t w_t h_t / Σ_t w_t with w_t = 1, 2, …, n over the n non-padding tokens of the row
    /// (later tokens weigh more), w_t = 0 on padding. The released code weights absolute positions 1..T, which is the same
    /// thing for right-padded rows; counting per row makes left padding give the same answer too.
    /// </summary>
    /// <param name="hidden">Last hidden states [B, T, d].</param>
    /// <param name="attentionMask">[B, T], 1 for tokens and 0 for padding.</param>
    /// <returns>[B, d].</returns>
    public static Tensor PositionWeightedMean(Tensor hidden, Tensor attentionMask) => Pool(hidden, attentionMask, PoolingKind.PositionWeightedMean);

    /// <summary>Plain mean over the non-padding tokens.</summary>
    /// <param name="hidden">Last hidden states [B, T, d].</param>
    /// <param name="attentionMask">[B, T], 1 for tokens and 0 for padding.</param>
    /// <returns>[B, d].</returns>
    public static Tensor Mean(Tensor hidden, Tensor attentionMask) => Pool(hidden, attentionMask, PoolingKind.Mean);

    /// <summary>Pools with the given kind.</summary>
    /// <param name="hidden">Last hidden states [B, T, d].</param>
    /// <param name="attentionMask">[B, T], 1 for tokens and 0 for padding.</param>
    /// <param name="kind">The pooling.</param>
    /// <returns>[B, d].</returns>
    /// <exception cref="ArgumentException">The shapes do not match.</exception>
    public static Tensor Pool(Tensor hidden, Tensor attentionMask, PoolingKind kind)
    {
        TensorChecks.Rank(hidden, 3, nameof(hidden), "[B, T, d]");
        TensorChecks.Rank(attentionMask, 2, nameof(attentionMask), "[B, T]");
        if (attentionMask.shape[0] != hidden.shape[0] || attentionMask.shape[1] != hidden.shape[1])
        {
            throw new ArgumentException(
                $"attentionMask {TensorChecks.Shape(attentionMask)} does not match hidden {TensorChecks.Shape(hidden)} in [B, T].",
                nameof(attentionMask));
        }

        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown pooling kind.");
        }

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        ScalarType dtype = TensorChecks.ComputeType(hidden.dtype);
        Tensor h = hidden.to(dtype);                                   // [B, T, d]
        Tensor mask = attentionMask.to(dtype);                         // [B, T]
        Tensor weights = kind == PoolingKind.PositionWeightedMean
            ? mask.cumsum(1) * mask                                    // 1..n on tokens, 0 on padding
            : mask;
        Tensor total = weights.sum(1, keepdim: true).ClampMin(1.0);    // [B, 1]
        Tensor pooled = bmm(weights.unsqueeze(1), h).squeeze(1);       // [B, d]
        return (pooled / total).MoveToOuterDisposeScope();
    }
}
