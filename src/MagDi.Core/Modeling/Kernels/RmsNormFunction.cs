using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// Hugging Face RMSNorm of a half-precision (bfloat16, float16) input as one autograd node, for training on the CPU
/// (<see cref="ForwardKernels.Training"/>). The forward runs the same libtorch ops as <see cref="RmsNorm"/>, so its
/// output is bit for bit the same; it keeps only x, the weight and the per-row 1/rms [.., 1] for the backward.
/// The backward computes the input gradient from the closed form in float32,
/// dx = r · gn − x · (r³ / d) · Σ gn·x with gn = (g · w) in the input dtype, r = 1/√(mean(x²) + eps),
/// which is what autograd computes through the eight ops of the forward (cast, pow, mean, add, rsqrt, mul, cast, mul),
/// in five element-wise passes instead of some fifteen.
/// </summary>
internal sealed class RmsNormFunction : autograd.SingleTensorFunction<RmsNormFunction>
{
    public override string Name => "MagDiRmsNorm";

    /// <summary>weight [d] · RMSNorm(x [.., d]) with autograd through this node.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps) => apply(x, weight, eps);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        double eps = (double)vars[2];
        using var scope = NewDisposeScope();
        var (y, r) = RmsNorm.Normalize(x, weight, eps);                               // [.., d], [.., 1]
        // The context saves its tensors after this method returns: r must outlive this scope.
        ctx.save_for_backward([x, weight, r.MoveToOuterDisposeScope()]);
        ctx.save_data("weightGrad", weight.requires_grad);
        return y.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor x = saved[0], weight = saved[1], r = saved[2];
        long d = x.shape[^1];
        Tensor x32 = x.to_type(ScalarType.Float32);                                   // [.., d]
        Tensor gn = (grad_output * weight).to_type(ScalarType.Float32);               // [.., d]: d loss / d normed
        Tensor coef = (gn * x32).sum([-1], keepdim: true).mul_(r.pow(3)).div_(d);     // [.., 1]
        Tensor dx = (gn * r).sub_(x32 * coef).to_type(x.dtype);                       // [.., d]
        Tensor? dw = null;
        if ((bool)ctx.get_data("weightGrad"))
        {
            // As autograd reduces grad · normed (input dtype) over every leading dimension.
            Tensor normed = (x32 * r).to_type(x.dtype);
            dw = (grad_output * normed).reshape(-1, d).sum([0]).MoveToOuterDisposeScope();
        }

        return [dx.MoveToOuterDisposeScope(), dw!, null!];
    }
}
