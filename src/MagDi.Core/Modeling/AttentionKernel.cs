using MagDi.Modeling.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MagDi.Modeling;

/// <summary>
/// How every decoder layer of one forward computes softmax(q kᵀ / √hd, masked) v. <see cref="Choose"/> is the one
/// place that decides, once per forward, from <see cref="AttentionImplementation"/>, the shapes and the forward's
/// <see cref="ForwardKernels"/>:
/// <list type="bullet">
/// <item>one query token per row (decoding): <see cref="ForwardKernels.TryAttendOne"/> (the CPU kernel in a decoding
/// step), else libtorch's fused kernel with each kv head's query group folded into the query axis;</item>
/// <item>several query tokens: Hugging Face's eager attention, or libtorch's fused kernel with the causal flag or the
/// mask.</item>
/// </list>
/// </summary>
internal abstract class AttentionKernel
{
    /// <summary>Scores per layer up to which <see cref="AttentionImplementation.Auto"/> picks eager attention on the CPU (float32 copy: 32 MiB).</summary>
    internal const long EagerScoreLimit = 1L << 23;

    private static readonly AttentionKernel EagerKernel = new Eager();
    private static readonly AttentionKernel CausalSdpa = new Sdpa(isCausal: true);
    private static readonly AttentionKernel MaskedSdpa = new Sdpa(isCausal: false);

    /// <summary>
    /// The attention of one forward and the mask it reads (bool [B|1,1,T,S], or null; see <see cref="AttentionMask.Build"/>).
    /// </summary>
    /// <param name="implementation">The model's setting for several query tokens.</param>
    /// <param name="padding">The input's attention mask [B, past + T], or null.</param>
    /// <param name="batch">Rows B.</param>
    /// <param name="heads">Query heads H.</param>
    /// <param name="past">Positions already in the cache.</param>
    /// <param name="t">Query tokens T.</param>
    /// <param name="window">The sliding window, or null.</param>
    /// <param name="device">Device of the activations.</param>
    /// <param name="dtype">Dtype of the activations.</param>
    /// <param name="kernels">The forward's kernels.</param>
    public static (AttentionKernel Kernel, Tensor? Mask) Choose(
        AttentionImplementation implementation, Tensor? padding, long batch, long heads, long past, long t, int? window, Device device, ScalarType dtype, ForwardKernels kernels)
    {
        bool eager = t > 1 && UseEager(implementation, device, dtype, batch * heads * t * (past + t));
        Tensor? mask = AttentionMask.Build(padding, past, t, window, device, always: eager);
        AttentionKernel kernel = t == 1 ? new OneQuery(kernels) : eager ? EagerKernel : mask is null ? CausalSdpa : MaskedSdpa;
        return (kernel, mask);
    }

    /// <summary>Whether a forward over several query tokens uses eager attention; <paramref name="scores"/> = B x H x T x S.</summary>
    internal static bool UseEager(AttentionImplementation implementation, Device device, ScalarType dtype, long scores) => implementation switch
    {
        AttentionImplementation.Eager => true,
        AttentionImplementation.Sdpa => false,
        AttentionImplementation.Auto => device.type == DeviceType.CPU && (dtype is ScalarType.BFloat16 or ScalarType.Float16) && scores <= EagerScoreLimit,
        _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, "Unknown attention implementation."),
    };

    /// <summary>q [B,H,T,hd]; k, v [B,KvH,S,hd] (KvH divides H); mask bool [B|1,1,T,S] or null. Returns [B,H,T,hd].</summary>
    public abstract Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask);

    /// <summary>
    /// Hugging Face's eager attention: softmax(q kᵀ / √hd, masked) v with the scores in the model dtype and the softmax in
    /// float32, cast back before multiplying by v. q [B,H,T,hd], k and v [B,H,S,hd], mask bool [B|1,1,T,S].
    /// </summary>
    internal static Tensor EagerAttention(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        using var scope = NewDisposeScope();
        Tensor scores = q.matmul(k.transpose(-1, -2)).mul(1.0 / Math.Sqrt(q.shape[^1]));            // [B,H,T,S]
        Tensor probs = F.softmax(scores.masked_fill(mask.logical_not(), double.NegativeInfinity), -1, ScalarType.Float32);
        return probs.to(q.dtype).matmul(v).MoveToOuterDisposeScope();                             // [B,H,T,hd]
    }

    /// <summary>HF repeat_kv: [B,KvH,S,hd] -> [B,H,S,hd], head h reading kv head h / (H/KvH). Expand + reshape has a cheap backward (a sum), unlike repeat_interleave's index_add.</summary>
    private static Tensor RepeatKv(Tensor x, long heads)
    {
        long b = x.shape[0], kvHeads = x.shape[1], s = x.shape[2], hd = x.shape[3];
        return kvHeads == heads ? x : x.unsqueeze(2).expand(b, kvHeads, heads / kvHeads, s, hd).reshape(b, heads, s, hd);
    }

    /// <summary>libtorch's fused kernel over several query tokens, with the causal flag (no mask) or the mask.</summary>
    private sealed class Sdpa(bool isCausal) : AttentionKernel
    {
        public override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask) =>
            F.scaled_dot_product_attention(q, RepeatKv(k, q.shape[1]), RepeatKv(v, q.shape[1]), mask, 0.0, isCausal);
    }

    /// <summary><see cref="EagerAttention"/> over several query tokens (the mask is always set).</summary>
    private sealed class Eager : AttentionKernel
    {
        public override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask) =>
            EagerAttention(q, RepeatKv(k, q.shape[1]), RepeatKv(v, q.shape[1]), mask!);
    }

    /// <summary>One query token per row over the cache: the forward's decoding kernel, else libtorch's fused kernel.</summary>
    private sealed class OneQuery(ForwardKernels kernels) : AttentionKernel
    {
        public override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
        {
            if (kernels.TryAttendOne(q, k, v, mask) is { } decoded)
            {
                return decoded;                                                                  // [B,H,1,hd]
            }

            long b = q.shape[0], heads = q.shape[1], kvHeads = k.shape[1], hd = q.shape[3];
            if (kvHeads == heads)
            {
                return F.scaled_dot_product_attention(q, k, v, mask, 0.0, false);
            }

            // Fold each kv head's query group into the query axis instead of copying the cache H/KvH times.
            Tensor grouped = q.reshape(b, kvHeads, heads / kvHeads, hd);                         // [B,KvH,H/KvH,hd]
            Tensor y = F.scaled_dot_product_attention(grouped, k, v, mask, 0.0, false);          // mask [B,1,1,S] broadcasts
            return y.reshape(b, heads, 1, hd);                                                   // [B,H,1,hd]
        }
    }
}
