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
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin, ForwardKernels kernels)
    {
        if (kernels.TryRope(x, cos, sin) is { } y)
        {
            return y;
        }

        long half = x.shape[^1] / 2;
        using Tensor x1 = x.narrow(-1, 0, half);
        using Tensor x2 = x.narrow(-1, half, half);
        using Tensor rotated = cat([-x2, x1], -1);
        return (x * cos) + (rotated * sin);
    }
}
