using MagDi.Modeling.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// Per-forward state shared by all decoder layers, built once by <see cref="CausalLanguageModel"/>'s forward: the
/// rotary tables, the mask, the cache, and the two choices that decide how the layers compute (which kernels, which
/// attention). A layer reads everything it needs from here.
/// </summary>
/// <param name="Cos">Rotary cosines [B,1,T,hd].</param>
/// <param name="Sin">Rotary sines [B,1,T,hd].</param>
/// <param name="Mask">Boolean [B|1, 1, T, S], true where a query may attend; null when causal order alone describes the forward (<see cref="AttentionMask.Build"/>).</param>
/// <param name="Cache">The KV cache to write this step's keys and values to, or null.</param>
/// <param name="PastLength">Tokens already in the cache.</param>
/// <param name="Attention">How attention is computed in this forward (<see cref="AttentionKernel.Choose"/>).</param>
/// <param name="Kernels">Which kernels compute projections, norms and rotary embedding in this forward (<see cref="ForwardKernels.For"/>).</param>
internal sealed record LayerContext(Tensor Cos, Tensor Sin, Tensor? Mask, KvCache? Cache, long PastLength, AttentionKernel Attention, ForwardKernels Kernels);
