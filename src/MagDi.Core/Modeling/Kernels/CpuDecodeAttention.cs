using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// Attention of one query token per row over the KV cache on the CPU (<see cref="CpuKernels"/>), with grouped-query heads
/// read in place: softmax(q kᵀ / √hd, masked) v in float32, rounded once to the model dtype. libtorch's fused kernel
/// costs ~30 µs per call for a decoding step; this loop costs a few µs at the cache lengths of the benchmark.
/// </summary>
internal static unsafe class CpuDecodeAttention
{
    /// <summary>
    /// q [B,H,1,hd]; k and v [B,KvH,S,hd] (views of the cache: the last two dims contiguous); mask bool [B|1,1,1,S]
    /// (true where the query may attend) or null. Returns [B,H,1,hd], or null when the kernel does not apply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor? TryAttend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        if (q.dim() != 4 || q.shape[2] != 1 || k.dim() != 4 || !k.shape.SequenceEqual(v.shape)
            || k.shape[0] != q.shape[0] || k.shape[3] != q.shape[3] || k.shape[1] == 0 || q.shape[1] % k.shape[1] != 0
            || (long)k.shape[1] * k.shape[2] * k.shape[3] * q.shape[0] > CpuKernels.MaxElements * 8
            || !CpuKernels.Accept(q, k, v)
            || k.stride(3) != 1 || v.stride(3) != 1 || k.stride(2) != k.shape[3] || v.stride(2) != v.shape[3])
        {
            return null;
        }

        long batch = q.shape[0], heads = q.shape[1], kvHeads = k.shape[1], s = k.shape[2], hd = q.shape[3];
        if (mask is not null && (mask.dtype != ScalarType.Bool || mask.device_type != DeviceType.CPU || mask.dim() != 4
            || (mask.shape[0] != batch && mask.shape[0] != 1) || mask.shape[1] != 1 || mask.shape[2] != 1 || mask.shape[3] != s))
        {
            return null;
        }

        bool bf16 = q.dtype == ScalarType.BFloat16;
        using Tensor qc = q.contiguous();
        using Tensor? mc = mask?.contiguous();
        // The cache views start inside their buffers: take the storage from the view's first element, through its base.
        using Tensor kBase = k.as_strided([(k.stride(0) * (batch - 1)) + (k.stride(1) * (kvHeads - 1)) + (s * hd)], [1], k.storage_offset());
        using Tensor vBase = v.as_strided([(v.stride(0) * (batch - 1)) + (v.stride(1) * (kvHeads - 1)) + (s * hd)], [1], v.storage_offset());
        Tensor y = empty(q.shape, q.dtype, q.device);
        float scale = 1f / MathF.Sqrt(hd);
        long kStride0 = k.stride(0), kStride1 = k.stride(1), vStride0 = v.stride(0), vStride1 = v.stride(1);
        bool maskPerRow = mask is not null && mask.shape[0] == batch;
        float[] scores = new float[s];
        float[] acc = new float[hd];
        fixed (float* accp = acc)
        fixed (byte* qp = qc.bytes, kp = kBase.bytes, vp = vBase.bytes, yp = y.bytes)
        fixed (byte* mp = mc is null ? default(Span<byte>) : mc.bytes)
        {
            for (long b = 0; b < batch; b++)
            {
                for (long h = 0; h < heads; h++)
                {
                    long kvh = h / (heads / kvHeads);
                    long qRow = ((b * heads) + h) * hd;
                    long kRow0 = (b * kStride0) + (kvh * kStride1), vRow0 = (b * vStride0) + (kvh * vStride1);
                    long maskRow = maskPerRow ? b * s : 0;
                    float max = float.NegativeInfinity;
                    for (long j = 0; j < s; j++)
                    {
                        if (mp is not null && mp[maskRow + j] == 0)
                        {
                            scores[j] = float.NegativeInfinity;
                            continue;
                        }

                        scores[j] = CpuKernels.Dot(qp, qRow, kp, kRow0 + (j * hd), hd, bf16) * scale;
                        max = MathF.Max(max, scores[j]);
                    }

                    new Span<float>(accp, (int)hd).Clear();
                    float total = 0;
                    for (long j = 0; j < s; j++)
                    {
                        if (float.IsNegativeInfinity(scores[j]))
                        {
                            continue;
                        }

                        float p = MathF.Exp(scores[j] - max);
                        total += p;
                        long vRow = vRow0 + (j * hd);
                        long i = 0;
                        for (; i + 8 <= hd; i += 8)
                        {
                            Vector256.FusedMultiplyAdd(Vector256.Create(p), CpuKernels.Load8(vp, vRow + i, bf16), Vector256.Load(accp + i)).Store(accp + i);
                        }

                        for (; i < hd; i++)
                        {
                            accp[i] += p * CpuKernels.Load(vp, vRow + i, bf16);
                        }
                    }

                    for (long i = 0; i < hd; i++)
                    {
                        CpuKernels.Store(yp, qRow + i, accp[i] / total, bf16);
                    }
                }
            }
        }

        return y;
    }
}
