using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Per-forward state shared by all decoder layers.</summary>
/// <param name="Cos">Rotary cosines [B,1,T,hd].</param>
/// <param name="Sin">Rotary sines [B,1,T,hd].</param>
/// <param name="Mask">Boolean [B|1, 1, T, S], true where a query may attend; null with <paramref name="IsCausal"/> or for one-token decoding.</param>
/// <param name="IsCausal">Use the fused kernel's causal flag (no mask).</param>
/// <param name="Cache">The KV cache to write this step's keys and values to, or null.</param>
/// <param name="PastLength">Tokens already in the cache.</param>
/// <param name="Eager">Compute attention over several query tokens with <see cref="Attention.Eager"/> (<paramref name="Mask"/> is then set).</param>
internal sealed record LayerContext(Tensor Cos, Tensor Sin, Tensor? Mask, bool IsCausal, KvCache? Cache, long PastLength, bool Eager = false);
