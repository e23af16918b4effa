using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace MagDi.Losses;

/// <summary>
/// The per-row log-sum-exp and the cross-entropy gradient of contiguous bfloat16 CPU logits [K, V], computed in C#
/// row by row with AVX vectors: the forward reads each bfloat16 row twice (its maximum, then Σ exp(x − max)), widening
/// to float32 by a 16-bit shift (exact); the backward reads it once and writes the gradient straight back in bfloat16
/// with round-to-nearest-even (as libtorch's float32 to bfloat16 cast rounds). No float32 copy of a row is stored. libtorch's blocked form (<see cref="ChunkedCrossEntropy"/>'s general
/// path) wrote a float32 copy of each block in the forward and again in the backward, ran its float32 exp, and copied
/// the float32 gradient back to bfloat16: in bf16 LoRA training that was about 12 % of the step (docs/performance.md).
/// Rows are split over <see cref="get_num_threads"/> workers; the result does not depend on the split.
/// </summary>
internal static class Bf16CrossEntropyKernel
{
    /// <summary>
    /// The <see cref="AppContext"/> switch that turns the kernel off (<see cref="ChunkedCrossEntropy"/> then runs libtorch's
    /// blocked ops for every dtype, as before). <c>MagDi.DisableFusedBackward</c> turns it off too.
    /// </summary>
    internal const string DisableSwitch = KernelSwitches.DisableCpuTrainingKernels;

    /// <summary>Whether the kernel computes the cross-entropy of <paramref name="logits"/>: bfloat16 [K, V] on the CPU, switches off.</summary>
    public static bool Applies(Tensor logits) =>
        logits.dtype == ScalarType.BFloat16 && logits.device_type == DeviceType.CPU && logits.dim() == 2
        && logits.shape[1] > 0 && Vector256.IsHardwareAccelerated
        && !KernelSwitches.IsSet(DisableSwitch) && !KernelSwitches.IsSet(KernelSwitches.DisableFusedBackward);

    /// <summary>log Σ_v exp(logits[k, v]) for every row, as float32 [K] (libtorch's <c>logsumexp</c>, to float32 rounding).</summary>
    public static unsafe Tensor LogSumExp(Tensor logits)
    {
        using Tensor source = logits.contiguous();
        long count = source.shape[0];
        int vocabulary = checked((int)source.shape[1]);
        Tensor lse = empty(count, ScalarType.Float32, CPU);                                       // [K]
        nint x = Address(source), output = Address(lse);
        ForRows(count, vocabulary, (first, end) =>
        {
            for (long k = first; k < end; k++)
            {
                ((float*)output)[k] = RowLogSumExp((ushort*)x + (k * vocabulary), vocabulary);
            }
        });
        return lse;
    }

    /// <summary>
    /// The gradient of the cross-entropy with respect to the logits, in bfloat16 [K, V]:
    /// (softmax(logits[k]) − one_hot(targets[k])) · scale[k], softmax taken as exp(logits − lse).
    /// </summary>
    /// <param name="logits">[K, V] bfloat16 CPU logits.</param>
    /// <param name="targets">[K] int64 class indices in [0, V) (checked by the forward's <c>gather</c>).</param>
    /// <param name="lse">[K] float32 log-sum-exp of each row (<see cref="LogSumExp"/>).</param>
    /// <param name="scale">[K] float32 upstream gradient per row, or a single value for every row.</param>
    public static unsafe Tensor Gradient(Tensor logits, Tensor targets, Tensor lse, Tensor scale)
    {
        using Tensor source = logits.contiguous();
        using Tensor target = targets.to(ScalarType.Int64).contiguous();
        using Tensor rowLse = lse.to(ScalarType.Float32).contiguous();
        using Tensor rowScale = scale.to(ScalarType.Float32).contiguous();
        long count = source.shape[0];
        int vocabulary = checked((int)source.shape[1]);
        if (target.numel() != count || rowLse.numel() != count || (rowScale.numel() != 1 && rowScale.numel() != count))
        {
            throw new ArgumentException($"targets, lse and scale must have {count} rows.");
        }

        using (Tensor outside = target.LessThan(0).logical_or(target.AtLeast(vocabulary)))
        {
            if (outside.any().item<bool>())
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Targets must be in [0, {vocabulary}).");
            }
        }

        bool perRow = rowScale.numel() > 1;
        Tensor grad = empty([count, vocabulary], ScalarType.BFloat16, CPU);                       // [K, V]
        nint x = Address(source), g = Address(grad), t = Address(target), l = Address(rowLse), s = Address(rowScale);
        ForRows(count, vocabulary, (first, end) =>
        {
            for (long k = first; k < end; k++)
            {
                RowGradient((ushort*)x + (k * vocabulary), (ushort*)g + (k * vocabulary), vocabulary,
                    (int)((long*)t)[k], ((float*)l)[k], ((float*)s)[perRow ? k : 0]);
            }
        });
        return grad;
    }

    /// <summary>
    /// Row log-sum-exp in two passes over the bfloat16 row (maximum, then Σ exp(x − max)), with libtorch's convention:
    /// an infinite maximum is not subtracted (all −∞ gives −∞).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float RowLogSumExp(ushort* row, int n)
    {
        Vector256<float> maxima = Vector256.Create(float.NegativeInfinity);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> wide = Vector512.Create(float.NegativeInfinity);
            for (; i + 32 <= n; i += 32)
            {
                (Vector512<float> lo, Vector512<float> hi) = Load32(row + i);
                wide = Vector512.Max(wide, Vector512.Max(lo, hi));
            }

            maxima = Vector256.Max(wide.GetLower(), wide.GetUpper());
        }

        for (; i + 16 <= n; i += 16)
        {
            (Vector256<float> lo, Vector256<float> hi) = Load16(row + i);
            maxima = Vector256.Max(maxima, Vector256.Max(lo, hi));                             // NaN propagates
        }

        float max = float.NegativeInfinity;
        for (int j = 0; j < Vector256<float>.Count; j++)
        {
            max = MathF.Max(max, maxima[j]);
        }

        for (int j = i; j < n; j++)
        {
            max = MathF.Max(max, Widen(row[j]));
        }

        if (float.IsNaN(max))
        {
            return float.NaN;
        }

        float shift = float.IsInfinity(max) ? 0f : max;
        Vector256<float> shifts = Vector256.Create(shift), sums = Vector256<float>.Zero;
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> wideShifts = Vector512.Create(shift), wide = Vector512<float>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                (Vector512<float> lo, Vector512<float> hi) = Load32(row + i);
                wide += FastExp(lo - wideShifts) + FastExp(hi - wideShifts);
            }

            sums = wide.GetLower() + wide.GetUpper();
        }

        for (; i + 16 <= n; i += 16)
        {
            (Vector256<float> lo, Vector256<float> hi) = Load16(row + i);
            sums += Vector256.Exp(lo - shifts) + Vector256.Exp(hi - shifts);
        }

        float sum = Vector256.Sum(sums);
        for (; i < n; i++)
        {
            sum += Exp(Widen(row[i]) - shift);
        }

        return MathF.Log(sum) + shift;
    }

    /// <summary>One row of the gradient in one pass: exp(x − lse) · scale rounded to bfloat16, then the target's (p − 1) · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RowGradient(ushort* row, ushort* grad, int n, int target, float lse, float scale)
    {
        Vector256<float> lses = Vector256.Create(lse), scales = Vector256.Create(scale);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> wideLses = Vector512.Create(lse), wideScales = Vector512.Create(scale);
            for (; i + 32 <= n; i += 32)
            {
                (Vector512<float> lo, Vector512<float> hi) = Load32(row + i);
                Vector512.Narrow(Round(FastExp(lo - wideLses) * wideScales), Round(FastExp(hi - wideLses) * wideScales)).Store(grad + i);
            }
        }

        for (; i + 16 <= n; i += 16)
        {
            (Vector256<float> lo, Vector256<float> hi) = Load16(row + i);
            Vector256.Narrow(Round(Vector256.Exp(lo - lses) * scales), Round(Vector256.Exp(hi - lses) * scales)).Store(grad + i);
        }

        for (; i < n; i++)
        {
            grad[i] = ToBFloat16(Exp(Widen(row[i]) - lse) * scale);
        }

        // softmax − one_hot: the target's probability minus 1, then the upstream factor (as libtorch's blocks computed it).
        grad[target] = ToBFloat16((Exp(Widen(row[target]) - lse) - 1f) * scale);
    }

    /// <summary>exp with the vector path's arithmetic, so a value does not depend on where in the row it falls.</summary>
    private static float Exp(float x) => Vector256.Exp(Vector256.Create(x)).ToScalar();

    /// <summary>16 bfloat16 values as two vectors of float32 (a 16-bit shift each, exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<float> Lo, Vector256<float> Hi) Load16(ushort* source)
    {
        (Vector256<uint> lo, Vector256<uint> hi) = Vector256.Widen(Vector256.Load(source));
        return (Vector256.ShiftLeft(lo, 16).AsSingle(), Vector256.ShiftLeft(hi, 16).AsSingle());
    }

    /// <summary>32 bfloat16 values as two vectors of float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector512<float> Lo, Vector512<float> Hi) Load32(ushort* source)
    {
        (Vector512<uint> lo, Vector512<uint> hi) = Vector512.Widen(Vector512.Load(source));
        return (Vector512.ShiftLeft(lo, 16).AsSingle(), Vector512.ShiftLeft(hi, 16).AsSingle());
    }

    /// <summary>
    /// exp in float32 for x ≤ 88 (Cephes' expf: x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-6 polynomial for e^r, then
    /// 2^n from the exponent bits), within 1e-7 relative; x below −87 gives 0 (libtorch gives a float32 subnormal, below
    /// 1e-38, which no gradient here can tell apart), NaN gives NaN. <see cref="Vector512.Exp(Vector512{float})"/> computes in float64 and
    /// took twice as long on the benchmark machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FastExp(Vector512<float> x)
    {
        Vector512<float> c = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.0f)), Vector512.Create(88.0f));
        Vector512<float> magic = Vector512.Create(12582912f);                                   // 1.5 · 2^23: rounds to an integer
        Vector512<float> shifted = (c * Vector512.Create(1.44269504088896341f)) + magic;
        Vector512<float> n = shifted - magic;                                                    // round(x / ln 2)
        Vector512<float> r = c - (n * Vector512.Create(0.693359375f)) - (n * Vector512.Create(-2.12194440e-4f));
        Vector512<float> p = Vector512.Create(1.9875691500E-4f);
        p = (p * r) + Vector512.Create(1.3981999507E-3f);
        p = (p * r) + Vector512.Create(8.3334519073E-3f);
        p = (p * r) + Vector512.Create(4.1665795894E-2f);
        p = (p * r) + Vector512.Create(1.6666665459E-1f);
        p = (p * r) + Vector512.Create(5.0000001201E-1f);
        p = (p * (r * r)) + r + Vector512<float>.One;
        Vector512<int> power = Vector512.ShiftLeft(shifted.AsInt32() - magic.AsInt32() + Vector512.Create(127), 23);
        Vector512<float> result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-87.0f)), Vector512<float>.Zero, p * power.AsSingle());
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);                    // NaN stays NaN
    }

    /// <summary>Sixteen float32 values rounded to bfloat16 (in the low 16 bits of each lane), as <see cref="ToBFloat16"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<float> v)
    {
        Vector512<uint> bits = v.AsUInt32();
        Vector512<uint> rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
        return Vector512.ConditionalSelect(Vector512.Equals(v, v).AsUInt32(), rounded, Vector512.Create(0x7FC0u));
    }

    private static float Widen(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    private static unsafe nint Address(Tensor t)
    {
        fixed (byte* bytes = t.bytes)
        {
            return (nint)bytes; // libtorch memory: it does not move
        }
    }

    /// <summary>Runs <paramref name="body"/>(first, end) over contiguous row ranges, one per worker.</summary>
    private static void ForRows(long count, int vocabulary, Action<long, long> body)
    {
        // Below about a million elements per worker, handing a part to another thread costs more than it saves.
        long workers = Math.Clamp(Math.Min(get_num_threads(), count * vocabulary / (1L << 20)), 1, count);
        MagDi.Runtime.OpenMpTeam.ForRanges(count, (int)workers, body);
    }

    /// <summary>Eight float32 values rounded to bfloat16 (in the low 16 bits of each lane), as <see cref="ToBFloat16"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<float> v)
    {
        Vector256<uint> bits = v.AsUInt32();
        Vector256<uint> rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One), 16);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, Vector256.Create(0x7FC0u));
    }

    private static ushort ToBFloat16(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }
}
