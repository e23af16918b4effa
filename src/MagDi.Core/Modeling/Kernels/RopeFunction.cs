using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// Rotary embedding x · cos + rotate_half(x) · sin of a half-precision input as one autograd node, for training on the
/// CPU (<see cref="ForwardKernels.Training"/>). The forward runs the same libtorch ops as <see cref="Rope"/> (bit for bit
/// the same output) and keeps only cos and sin. The rotation is linear, so the backward is its transpose:
/// dx = g · cos + rotate_half_transposed(g · sin), rotate_half_transposed([u1, u2]) = [u2, −u1]; autograd computes the
/// same sums through narrow, neg, cat and two products, with zero-filled slices for each half.
/// </summary>
internal sealed class RopeFunction : autograd.SingleTensorFunction<RopeFunction>
{
    public override string Name => "MagDiRope";

    /// <summary>x [B,H,T,hd] rotated by cos, sin [B,1,T,hd] (tables without gradient), with autograd through this node.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => apply(x, cos, sin);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var cos = (Tensor)vars[1];
        var sin = (Tensor)vars[2];
        ctx.save_for_backward([cos, sin]);
        return Rope.Rotate(x, cos, sin);                                                // [B,H,T,hd]
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor cos = saved[0], sin = saved[1];
        long half = grad_output.shape[^1] / 2;
        Tensor u = grad_output * sin;                                                   // [B,H,T,hd]
        Tensor dx = (grad_output * cos).Plus(cat([u.narrow(-1, half, half), -u.narrow(-1, 0, half)], -1));
        return [dx.MoveToOuterDisposeScope(), null!, null!];
    }
}
