using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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
/// in five element-wise passes instead of some fifteen; for bfloat16 the input gradient is one C# kernel (two passes
/// over each row, <see cref="Bf16InputGradient"/>).
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
        Tensor dx;
        if (UsesBf16Kernel(x, weight))
        {
            dx = Bf16InputGradient(grad_output, x, weight, r);                        // [.., d], one C# pass per row
        }
        else
        {
            Tensor x32 = x.to_type(ScalarType.Float32);                               // [.., d]
            Tensor gn = (grad_output * weight).to_type(ScalarType.Float32);           // [.., d]: d loss / d normed
            using Scalar three = Scalars.Of(3L), width = Scalars.Of(d);
            Tensor coef = (gn * x32).sum([-1], keepdim: true).mul_(r.pow(three)).div_(width); // [.., 1]
            dx = (gn * r).sub_(x32 * coef).to_type(x.dtype);                          // [.., d]
        }

        Tensor? dw = null;
        if ((bool)ctx.get_data("weightGrad"))
        {
            // As autograd reduces grad · normed (input dtype) over every leading dimension.
            Tensor normed = (x.to_type(ScalarType.Float32) * r).to_type(x.dtype);
            dw = (grad_output * normed).reshape(-1, d).sum([0]).MoveToOuterDisposeScope();
        }

        return [dx.MoveToOuterDisposeScope(), dw!, null!];
    }
    /// <summary>
    /// Whether the input gradient runs in C# (<see cref="Bf16InputGradient"/>): bfloat16 input and weight with AVX
    /// vectors, unless the <c>MagDi.DisableCpuTrainingKernels</c> switch is set.
    /// </summary>
    private static bool UsesBf16Kernel(Tensor x, Tensor weight) =>
        x.dtype == ScalarType.BFloat16 && weight.dtype == ScalarType.BFloat16 && x.device_type == DeviceType.CPU
        && Vector256.IsHardwareAccelerated && !KernelSwitches.IsSet(KernelSwitches.DisableCpuTrainingKernels);

    /// <summary>
    /// The closed form above for bfloat16, two passes over each row of g and x instead of the float32 tensors' nine:
    /// gn = bf16(g · w) (libtorch's bf16 product), Σ gn·x and r³ in float32, dx = bf16(gn·r − x·coef) with the same
    /// products and rounding points as the libtorch ops; only the order of the row sum differs (float32 rounding).
    /// </summary>
    private static unsafe Tensor Bf16InputGradient(Tensor grad, Tensor x, Tensor weight, Tensor r)
    {
        long d = x.shape[^1];
        long rows = x.numel() / d;
        using Tensor g = grad.contiguous(), xc = x.contiguous(), w = weight.contiguous(), rc = r.to_type(ScalarType.Float32).contiguous();
        Tensor dx = empty(x.shape, ScalarType.BFloat16, CPU);                         // [.., d]
        nint gp, xp, wp, rp, dp;
        fixed (byte* a = g.bytes, b = xc.bytes, c = w.bytes, e = rc.bytes, f = dx.bytes)
        {
            (gp, xp, wp, rp, dp) = ((nint)a, (nint)b, (nint)c, (nint)e, (nint)f);    // libtorch memory: it does not move
        }

        // Rows are independent; two parts only when each has enough rows to pay for handing it to another thread.
        int parts = (int)Math.Clamp(Math.Min(get_num_threads(), rows * d / (1L << 17)), 1, Math.Max(1, rows));
        MagDi.Runtime.OpenMpTeam.ForRanges(rows, parts, (first, end) =>
        {
            for (long row = first; row < end; row++)
            {
                Row((byte*)gp, (byte*)xp, (byte*)wp, ((float*)rp)[row], (byte*)dp, row * d, d);
            }
        });
        return dx;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Row(byte* g, byte* x, byte* w, float r, byte* dx, long start, long d)
    {
        Vector256<float> sums = default;
        long i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> gn = CpuKernels.Round8(CpuKernels.Load8(g, start + i, true) * CpuKernels.Load8(w, i, true), true);
            sums += gn * CpuKernels.Load8(x, start + i, true);
        }

        float sum = Vector256.Sum(sums);
        for (long j = i; j < d; j++)
        {
            sum += CpuKernels.Round(CpuKernels.Load(g, start + j, true) * CpuKernels.Load(w, j, true), true) * CpuKernels.Load(x, start + j, true);
        }

        float coef = sum * (r * r * r) / d;                                          // as .mul_(r.pow(3)).div_(d)
        Vector256<float> rs = Vector256.Create(r), coefs = Vector256.Create(coef);
        for (i = 0; i + 8 <= d; i += 8)
        {
            Vector256<float> gn = CpuKernels.Round8(CpuKernels.Load8(g, start + i, true) * CpuKernels.Load8(w, i, true), true);
            CpuKernels.Store8(dx, start + i, (gn * rs) - (CpuKernels.Load8(x, start + i, true) * coefs), true);
        }

        for (; i < d; i++)
        {
            float gn = CpuKernels.Round(CpuKernels.Load(g, start + i, true) * CpuKernels.Load(w, i, true), true);
            CpuKernels.Store(dx, start + i, (gn * r) - (CpuKernels.Load(x, start + i, true) * coef), true);
        }
    }
}
