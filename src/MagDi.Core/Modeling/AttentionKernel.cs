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
    /// Hugging Face's eager attention: softmax(q kᵀ / √hd, masked) v with the scores in the model dtype. q [B,H,T,hd];
    /// k and v [B,KvH,S,hd] (KvH divides H); mask bool [B|1,1,T,S], true where a query may attend. Returns [B,H,T,hd].
    /// float32 and float16 compute it op for op as Hugging Face does (K and V repeated per query head, softmax in float32,
    /// probabilities cast back); bfloat16 takes <see cref="EagerAttentionBf16"/>.
    /// </summary>
    internal static Tensor EagerAttention(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        if (q.dtype == ScalarType.BFloat16)
        {
            return EagerAttentionBf16(q, k, v, mask);
        }

        using var scope = NewDisposeScope();
        k = RepeatKv(k, q.shape[1]);                                                              // [B,H,S,hd]
        v = RepeatKv(v, q.shape[1]);
        Tensor scores = q.matmul(k.transpose(-1, -2)).Times(1.0 / Math.Sqrt(q.shape[^1]));            // [B,H,T,S]
        Tensor probs = F.softmax(scores.masked_fill(mask.logical_not(), Scalars.NegativeInfinity), -1, ScalarType.Float32);
        return probs.to(q.dtype).matmul(v).MoveToOuterDisposeScope();                             // [B,H,T,hd]
    }

    /// <summary>
    /// <see cref="EagerAttention"/> in bfloat16 with fewer passes over the [B,H,T,S] scores (in bf16 training on the CPU
    /// the masked float32 softmax cost several times the two attention products):
    /// <list type="bullet">
    /// <item>Each kv head's query group is folded into the query axis ([B,KvH,G·T,hd] against [B,KvH,S,hd]), so K and V
    /// are not copied H/KvH times, nor their gradients summed back.</item>
    /// <item>When 1/√hd is a power of two (hd = 4, 16, 64, 256) it scales q instead of the scores: exact, and q is
    /// S/hd times smaller.</item>
    /// <item>The masked scores are set to -∞ in place, outside autograd: the softmax is exactly 0 there, so its backward
    /// is exactly 0 there too, which is all masked_fill's backward did.</item>
    /// <item>libtorch's bf16 softmax computes in float32 and rounds the probabilities to bf16 once, as the cast did, so the
    /// forward gives the same values without float32 copies of the scores and probabilities. Its backward reads the bf16
    /// probabilities instead of the float32 ones: the gradients differ from Hugging Face's by about a bf16 rounding
    /// (tested, and no further from exact arithmetic).</item>
    /// </list>
    /// </summary>
    private static Tensor EagerAttentionBf16(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], heads = q.shape[1], t = q.shape[2], hd = q.shape[3];
        long kvHeads = k.shape[1], s = k.shape[2], group = heads / kvHeads;
        double scale = 1.0 / Math.Sqrt(hd);
        bool scaleIsExact = long.IsPow2(hd) && long.Log2(hd) % 2 == 0;                                // hd = 4^n: scale = 2^-n
        Tensor grouped = (scaleIsExact ? q.Times(scale) : q).reshape(b, kvHeads, group * t, hd);      // [B,KvH,G*T,hd]
        Tensor scores = grouped.matmul(k.transpose(-1, -2));                                        // [B,KvH,G*T,S]
        if (!scaleIsExact)
        {
            scores = scores.Times(scale);
        }

        using (no_grad())
        {
            using Tensor blocked = mask.logical_not().unsqueeze(2);                                  // [B|1,1,1,T,S]
            scores.view(b, kvHeads, group, t, s).masked_fill_(blocked, Scalars.NegativeInfinity);
        }

        return F.softmax(scores, -1).matmul(v).view(b, heads, t, hd).MoveToOuterDisposeScope();     // [B,H,T,hd]
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
            EagerAttention(q, k, v, mask!);
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
