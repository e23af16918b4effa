using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// y = x Wᵀ + b for a handful of input rows on the CPU (one-token decoding). With one input row a linear layer is a
/// matrix-vector product, limited by how fast the weight streams from memory: libtorch 2.10 spends a fixed ~12 µs per
/// bfloat16 product in oneDNN and streams float32 weights through MKL at 12-24 GB/s on the benchmark machine, where one
/// core's vector loads reach 40-90 GB/s. This kernel reads each weight once at close to that rate. Products accumulate in
/// float32; bfloat16 results round once, as libtorch's do (the summation order differs, so results agree to float32
/// rounding, not bit for bit). Output rows are split over <see cref="CpuWorkers"/> (as many parts as libtorch has
/// threads). <see cref="CpuKernels"/> has the rules all the CPU kernels share.
/// </summary>
internal static unsafe class CpuGemv
{
    /// <summary>
    /// At most this many input rows. Each row repeats the dot products over a weight block that is already in cache; at
    /// 2 rows this still beat libtorch on the benchmark model (f32 2.6x, bf16 1.1x per step), at 4 libtorch's GEMM won.
    /// </summary>
    internal const int MaxRows = 2;

    /// <summary>x [..., K] · W [N, K]ᵀ + b [N] as [..., N], or null when this kernel does not apply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor? TryLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (weight.dim() != 2 || x.dim() < 1 || !CpuKernels.Accept(weight, x, bias))
        {
            return null;
        }

        long n = weight.shape[0], k = weight.shape[1];
        long weightBytes = n * k * weight.element_size();
        if (x.shape[^1] != k || k == 0 || n == 0 || x.numel() / k is var m && (m < 1 || m > MaxRows)
            || weightBytes > int.MaxValue                                   // addressed through a Span<byte>
            || !weight.is_contiguous() || (bias is not null && !bias.is_contiguous()))
        {
            return null;
        }

        long[] outShape = x.shape;
        outShape[^1] = n;
        using Tensor xc = x.contiguous();
        ScalarType dtype = weight.dtype;
        Tensor y = empty(outShape, dtype, x.device);
        fixed (byte* xp = xc.bytes, wp = weight.bytes, yp = y.bytes)
        fixed (byte* bp = bias is null ? default(Span<byte>) : bias.bytes)
        {
            new Job(xp, wp, bp, yp, (int)m, (int)n, (int)k, dtype == ScalarType.BFloat16).Run();
        }

        return y;
    }

    /// <summary>One product's pointers and sizes.</summary>
    private readonly struct Job(byte* x, byte* w, byte* b, byte* y, int rows, int n, int k, bool bf16)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run()
        {
            // The input rows in f32, once. For bf16 weights, split into even and odd elements: a uint holding two
            // bf16 weights gives the odd one as a float by masking and the even one by shifting, with no lane shuffles.
            float[] xs = new float[rows * k];
            int half = k / 2;
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < k; i++)
                {
                    float v = CpuKernels.Load(x, ((long)r * k) + i, bf16);
                    int at = !bf16 || i >= 2 * half ? i : (i & 1) == 0 ? i / 2 : half + (i / 2);
                    xs[(r * k) + at] = v;
                }
            }

            fixed (float* xf = xs)
            {
                // Parts of whole four-row blocks; the last part takes what is left.
                int parts = CpuWorkers.PartsFor((long)n * k * (bf16 ? 2 : 4));
                int total = n, block = ((n / parts) + 3) & ~3;
                float* xfp = xf;
                Job self = this;
                CpuWorkers.For(parts, p => self.Rows(xfp, Math.Min(p * block, total), p == parts - 1 ? total : Math.Min((p + 1) * block, total)));
            }
        }

        /// <summary>Output columns [start, end) of every row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Rows(float* xf, int start, int end)
        {
            // Weight rows outermost: each block of four rows comes from memory once and from cache for the other input rows.
            int j = start;
            for (; j + 4 <= end; j += 4)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* xr = xf + ((long)r * k);
                    Vector4 s = bf16 ? Dot4BFloat16((ushort*)w + ((long)j * k), k, xr) : Dot4Single((float*)w + ((long)j * k), k, xr);
                    Store(r, j, s.X);
                    Store(r, j + 1, s.Y);
                    Store(r, j + 2, s.Z);
                    Store(r, j + 3, s.W);
                }
            }

            for (; j < end; j++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* xr = xf + ((long)r * k);
                    Store(r, j, bf16 ? Dot1BFloat16((ushort*)w + ((long)j * k), k, xr) : CpuKernels.Dot(w, (long)j * k, (byte*)xr, 0, k, bf16: false));
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Store(int row, int col, float sum)
        {
            CpuKernels.Store(y, ((long)row * n) + col, sum + (b is null ? 0f : CpuKernels.Load(b, col, bf16)), bf16);
        }
    }

    /// <summary>Dot products of four consecutive f32 weight rows (row length k) with x, sharing the loads of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector4 Dot4Single(float* w, int k, float* x)
    {
        float* w0 = w, w1 = w + k, w2 = w + (2 * k), w3 = w + (3 * k);
        int i = 0;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; i + 8 <= k; i += 8)
        {
            Vector256<float> xv = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), xv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), xv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), xv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), xv, a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < k; i++)
        {
            s0 += w0[i] * x[i];
            s1 += w1[i] * x[i];
            s2 += w2[i] * x[i];
            s3 += w3[i] * x[i];
        }

        return new Vector4(s0, s1, s2, s3);
    }

    /// <summary>
    /// Dot products of four consecutive bf16 weight rows with x given as [even elements, odd elements, odd-k tail].
    /// Each uint of a row holds elements 2i (low half) and 2i+1 (high half): shifted left by 16 and masked, they are floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector4 Dot4BFloat16(ushort* w, int k, float* x)
    {
        int half = k / 2;
        uint* w0 = (uint*)w, w1 = (uint*)(w + k), w2 = (uint*)(w + (2 * k)), w3 = (uint*)(w + (3 * k));
        float* xe = x, xo = x + half;
        int i = 0;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<uint> high = Vector256.Create(0xFFFF0000u);
        for (; i + 8 <= half; i += 8)
        {
            Vector256<float> ev = Vector256.Load(xe + i), od = Vector256.Load(xo + i);
            Vector256<uint> v0 = Vector256.Load(w0 + i), v1 = Vector256.Load(w1 + i), v2 = Vector256.Load(w2 + i), v3 = Vector256.Load(w3 + i);
            a0 = Vector256.FusedMultiplyAdd((v0 << 16).AsSingle(), ev, Vector256.FusedMultiplyAdd((v0 & high).AsSingle(), od, a0));
            a1 = Vector256.FusedMultiplyAdd((v1 << 16).AsSingle(), ev, Vector256.FusedMultiplyAdd((v1 & high).AsSingle(), od, a1));
            a2 = Vector256.FusedMultiplyAdd((v2 << 16).AsSingle(), ev, Vector256.FusedMultiplyAdd((v2 & high).AsSingle(), od, a2));
            a3 = Vector256.FusedMultiplyAdd((v3 << 16).AsSingle(), ev, Vector256.FusedMultiplyAdd((v3 & high).AsSingle(), od, a3));
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < half; i++)
        {
            s0 += (BitConverter.UInt32BitsToSingle(w0[i] << 16) * xe[i]) + (BitConverter.UInt32BitsToSingle(w0[i] & 0xFFFF0000u) * xo[i]);
            s1 += (BitConverter.UInt32BitsToSingle(w1[i] << 16) * xe[i]) + (BitConverter.UInt32BitsToSingle(w1[i] & 0xFFFF0000u) * xo[i]);
            s2 += (BitConverter.UInt32BitsToSingle(w2[i] << 16) * xe[i]) + (BitConverter.UInt32BitsToSingle(w2[i] & 0xFFFF0000u) * xo[i]);
            s3 += (BitConverter.UInt32BitsToSingle(w3[i] << 16) * xe[i]) + (BitConverter.UInt32BitsToSingle(w3[i] & 0xFFFF0000u) * xo[i]);
        }

        if ((k & 1) != 0)
        {
            float last = x[k - 1];
            s0 += CpuKernels.BFloat16ToSingle(w[k - 1]) * last;
            s1 += CpuKernels.BFloat16ToSingle(w[(2 * k) - 1]) * last;
            s2 += CpuKernels.BFloat16ToSingle(w[(3 * k) - 1]) * last;
            s3 += CpuKernels.BFloat16ToSingle(w[(4 * k) - 1]) * last;
        }

        return new Vector4(s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1BFloat16(ushort* w, int k, float* x)
    {
        int half = k / 2;
        float s = 0;
        for (int i = 0; i < half; i++)
        {
            s += (CpuKernels.BFloat16ToSingle(w[2 * i]) * x[i]) + (CpuKernels.BFloat16ToSingle(w[(2 * i) + 1]) * x[half + i]);
        }

        return (k & 1) != 0 ? s + (CpuKernels.BFloat16ToSingle(w[k - 1]) * x[k - 1]) : s;
    }
}
