using MagDi.Modeling.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Rotary position embedding helpers (HF rotate-half convention).</summary>
internal static class Rope
{
    /// <summary>cos and sin tables [B,1,T,hd] for position ids [B,T], computed in f32 and cast to <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) Build(Tensor positionIds, int headDim, double theta, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        Tensor invFreq = 1.0 / pow(theta, arange(0, headDim, 2, ScalarType.Float32, positionIds.device) / headDim); // [hd/2]
        Tensor freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;                         // [B,T,hd/2]
        Tensor emb = cat([freqs, freqs], -1).unsqueeze(1);                                                        // [B,1,T,hd]
        return (emb.cos().to_type(dtype).MoveToOuterDisposeScope(), emb.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x · cos + rotate_half(x) · sin for x [B,H,T,hd], cos and sin [B,1,T,hd], with the forward's kernel when it has one.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin, ForwardKernels kernels) =>
        kernels.TryRope(x, cos, sin) ?? Rotate(x, cos, sin);

    /// <summary>x · cos + rotate_half(x) · sin with libtorch's ops: the reference every kernel of it reproduces.</summary>
    internal static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        Tensor rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);   // [B,H,T,hd]
        return ((x * cos) + (rotated * sin)).MoveToOuterDisposeScope();
    }
}
