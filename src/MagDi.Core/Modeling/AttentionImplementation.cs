namespace MagDi.Modeling;

/// <summary>
/// How decoder layers compute attention over more than one query token (Hugging Face's <c>attn_implementation</c>).
/// Decoding one token with a KV cache always uses the fused kernel.
/// </summary>
public enum AttentionImplementation
{
    /// <summary>
    /// <see cref="Eager"/> when it is faster: half-precision (bf16, fp16) on the CPU with at most
    /// 2^23 attention scores per layer (batch x heads x queries x keys), whose float32 copy then fits in a typical
    /// last-level cache. <see cref="Sdpa"/> otherwise.
    /// </summary>
    Auto = 0,

    /// <summary>libtorch's fused <c>scaled_dot_product_attention</c> (flash kernel for causal or masked input): memory linear in the sequence length.</summary>
    Sdpa,

    /// <summary>
    /// Hugging Face's eager attention: scores <c>q kᵀ / √d</c> in the model dtype, masked softmax in float32, probabilities cast
    /// back, times <c>v</c>. Holds the [B, H, T, S] scores for the backward. libtorch's CPU flash kernel computes bf16 in
    /// float32, so for short sequences this is about 1.4-2x faster in bf16 training on the CPU. In bfloat16 the softmax
    /// is libtorch's bf16 softmax (float32 inside, the probabilities rounded once as the cast does): the same forward
    /// values, gradients within a bf16 rounding.
    /// </summary>
    Eager,
}
