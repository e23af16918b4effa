using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// RMSNorm and rotary embedding for small inputs on the CPU (<see cref="CpuKernels"/>): one pass over each row instead of
/// libtorch's 7-8 ops, with the same rounding points as the libtorch expressions in <see cref="RmsNorm"/> and <see cref="Rope"/>.
/// </summary>
internal static unsafe class CpuRowKernels
{
    /// <summary>
    /// Hugging Face Llama RMSNorm, weight · (x / √(mean(x²) + eps)) with the normalisation in float32 and the result
    /// cast to the input dtype before the weight multiplies it; null when the kernels do not apply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps)
    {
        long d = weight.numel();
        if (x.dim() < 1 || x.shape[^1] != d || x.numel() > CpuKernels.MaxElements || !CpuKernels.Accept(x, weight)
            || !x.is_contiguous() || !weight.is_contiguous())
        {
            return null;
        }

        bool bf16 = x.dtype == ScalarType.BFloat16;
        long rows = x.numel() / d;
        Tensor y = empty(x.shape, x.dtype, x.device);
        fixed (byte* xp = x.bytes, wp = weight.bytes, yp = y.bytes)
        {
            for (long r = 0; r < rows; r++)
            {
                long row = r * d, i = 0;
                Vector256<float> squares = default;
                for (; i + 8 <= d; i += 8)
                {
                    Vector256<float> v = CpuKernels.Load8(xp, row + i, bf16);
                    squares = Vector256.FusedMultiplyAdd(v, v, squares);
                }

                float sum = Vector256.Sum(squares);
                for (; i < d; i++)
                {
                    float v = CpuKernels.Load(xp, row + i, bf16);
                    sum += v * v;
                }

                float inv = 1f / MathF.Sqrt((sum / d) + (float)eps);
                var invs = Vector256.Create(inv);
                for (i = 0; i + 8 <= d; i += 8)
                {
                    Vector256<float> normed = CpuKernels.Round8(CpuKernels.Load8(xp, row + i, bf16) * invs, bf16);
                    CpuKernels.Store8(yp, row + i, CpuKernels.Load8(wp, i, bf16) * normed, bf16);
                }

                for (; i < d; i++)
                {
                    float normed = CpuKernels.Round(CpuKernels.Load(xp, row + i, bf16) * inv, bf16);
                    CpuKernels.Store(yp, row + i, CpuKernels.Load(wp, i, bf16) * normed, bf16);
                }
            }
        }

        return y;
    }

    /// <summary>
    /// x · cos + rotate_half(x) · sin for x [B,H,T,hd] and cos, sin [B,1,T,hd] (Hugging Face rotate-half convention),
    /// rounding each product and the sum as libtorch's three ops do; null when the kernels do not apply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor? TryRope(Tensor x, Tensor cos, Tensor sin)
    {
        if (x.dim() != 4 || cos.dim() != 4 || x.numel() > CpuKernels.MaxElements || !CpuKernels.Accept(x, cos, sin)
            || cos.shape[1] != 1 || cos.shape[0] != x.shape[0] || cos.shape[2] != x.shape[2] || cos.shape[3] != x.shape[3]
            || !sin.shape.SequenceEqual(cos.shape) || !cos.is_contiguous() || !sin.is_contiguous() || (x.shape[3] & 1) != 0)
        {
            return null;
        }

        bool bf16 = x.dtype == ScalarType.BFloat16;
        long batch = x.shape[0], heads = x.shape[1], t = x.shape[2], hd = x.shape[3], half = hd / 2;
        using Tensor xc = x.contiguous();
        Tensor y = empty(x.shape, x.dtype, x.device);
        fixed (byte* xp = xc.bytes, cp = cos.bytes, sp = sin.bytes, yp = y.bytes)
        {
            for (long b = 0; b < batch; b++)
            {
                for (long h = 0; h < heads; h++)
                {
                    for (long p = 0; p < t; p++)
                    {
                        long row = ((((b * heads) + h) * t) + p) * hd, table = ((b * t) + p) * hd, i = 0;
                        if (half % 8 == 0)
                        {
                            // First half: x·cos - x[i+half]·sin; second half: x·cos + x[i-half]·sin (negation is exact).
                            for (; i < hd; i += 8)
                            {
                                Vector256<float> other = CpuKernels.Load8(xp, row + (i < half ? i + half : i - half), bf16);
                                Vector256<float> a = CpuKernels.Round8(CpuKernels.Load8(xp, row + i, bf16) * CpuKernels.Load8(cp, table + i, bf16), bf16);
                                Vector256<float> c = CpuKernels.Round8((i < half ? -other : other) * CpuKernels.Load8(sp, table + i, bf16), bf16);
                                CpuKernels.Store8(yp, row + i, a + c, bf16);
                            }
                        }

                        for (; i < hd; i++)
                        {
                            float rotated = i < half ? -CpuKernels.Load(xp, row + i + half, bf16) : CpuKernels.Load(xp, row + i - half, bf16);
                            float a = CpuKernels.Round(CpuKernels.Load(xp, row + i, bf16) * CpuKernels.Load(cp, table + i, bf16), bf16);
                            float c = CpuKernels.Round(rotated * CpuKernels.Load(sp, table + i, bf16), bf16);
                            CpuKernels.Store(yp, row + i, a + c, bf16);
                        }
                    }
                }
            }
        }

        return y;
    }
}
