using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace MagDi.Losses;

/// <summary>
/// The per-row log-sum-exp and the cross-entropy gradient of contiguous bfloat16 CPU logits [K, V], computed in C#
/// row by row: each row is read once as bfloat16, widened to float32 (a 16-bit shift, exact) into a per-thread scratch
/// row that stays in the caches, and the gradient is written straight back in bfloat16 with round-to-nearest-even (as
/// libtorch's float32 to bfloat16 cast rounds). libtorch's blocked form (<see cref="ChunkedCrossEntropy"/>'s general
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
    internal const string DisableSwitch = "MagDi.DisableFusedLossAndDropout";

    private const string DisableFusedBackwardSwitch = "MagDi.DisableFusedBackward";

    /// <summary>Whether the kernel computes the cross-entropy of <paramref name="logits"/>: bfloat16 [K, V] on the CPU, switches off.</summary>
    public static bool Applies(Tensor logits) =>
        logits.dtype == ScalarType.BFloat16 && logits.device_type == DeviceType.CPU && logits.dim() == 2
        && logits.shape[1] > 0 && Vector256.IsHardwareAccelerated
        && !IsSet(DisableSwitch) && !IsSet(DisableFusedBackwardSwitch);

    private static bool IsSet(string name) => AppContext.TryGetSwitch(name, out bool value) && value;

    /// <summary>log Σ_v exp(logits[k, v]) for every row, as float32 [K] (libtorch's <c>logsumexp</c>, to float32 rounding).</summary>
    public static unsafe Tensor LogSumExp(Tensor logits)
    {
        using Tensor source = logits.contiguous();
        long count = source.shape[0];
        int vocabulary = checked((int)source.shape[1]);
        Tensor lse = empty(count, ScalarType.Float32, CPU);                                       // [K]
        nint x = Address(source), output = Address(lse);
        ForRows(count, vocabulary, (first, end, scratch) =>
        {
            var row = new Span<float>(scratch, 0, vocabulary);
            for (long k = first; k < end; k++)
            {
                Widen((ushort*)x + (k * vocabulary), row);
                ((float*)output)[k] = RowLogSumExp(row);
            }
        });
        return lse;
    }

    /// <summary>
    /// The gradient of the cross-entropy with respect to the logits, in bfloat16 [K, V]:
    /// (softmax(logits[k]) − one_hot(targets[k])) · scale[k], softmax taken as exp(logits − lse).
    /// </summary>
    /// <param name="logits">[K, V] bfloat16 CPU logits.</param>
    /// <param name="targets">[K] int64 class indices in [0, V).</param>
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
        bool perRow = rowScale.numel() > 1;
        Tensor grad = empty([count, vocabulary], ScalarType.BFloat16, CPU);                       // [K, V]
        nint x = Address(source), g = Address(grad), t = Address(target), l = Address(rowLse), s = Address(rowScale);
        ForRows(count, vocabulary, (first, end, scratch) =>
        {
            var row = new Span<float>(scratch, 0, vocabulary);
            for (long k = first; k < end; k++)
            {
                long label = ((long*)t)[k];
                if ((ulong)label >= (ulong)vocabulary)
                {
                    throw new ArgumentOutOfRangeException(nameof(targets), label, $"Target {label} of row {k} is outside [0, {vocabulary}).");
                }

                float factor = ((float*)s)[perRow ? k : 0];
                Widen((ushort*)x + (k * vocabulary), row);
                TensorPrimitives.Subtract(row, ((float*)l)[k], row);
                TensorPrimitives.Exp(row, row);
                row[(int)label] -= 1f;                                    // softmax − one_hot, then the upstream factor
                TensorPrimitives.Multiply(row, factor, row);
                Narrow(row, (ushort*)g + (k * vocabulary));
            }
        });
        return grad;
    }

    /// <summary>Row log-sum-exp with libtorch's convention: an infinite maximum is not subtracted (all −∞ gives −∞).</summary>
    private static float RowLogSumExp(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        if (float.IsNaN(max))
        {
            return float.NaN;
        }

        float shift = float.IsInfinity(max) ? 0f : max;
        TensorPrimitives.Subtract(row, shift, row);
        TensorPrimitives.Exp(row, row);
        return MathF.Log(TensorPrimitives.Sum(row)) + shift;
    }

    private static unsafe nint Address(Tensor t)
    {
        fixed (byte* bytes = t.bytes)
        {
            return (nint)bytes; // libtorch memory: it does not move
        }
    }

    /// <summary>Runs <paramref name="body"/>(first, end, scratch) over contiguous row ranges, one per worker, each with its own float scratch of at least <paramref name="vocabulary"/> elements.</summary>
    private static void ForRows(long count, int vocabulary, Action<long, long, float[]> body)
    {
        // Below about a million elements per worker, waking a thread-pool thread costs more than it saves.
        long workers = Math.Clamp(Math.Min(get_num_threads(), count * vocabulary / (1L << 20)), 1, count);
        if (workers <= 1)
        {
            Run(0, count);
            return;
        }

        long per = (count + workers - 1) / workers;
        Parallel.For(0, (int)workers, w => Run(w * per, Math.Min(count, (w + 1) * per)));

        void Run(long first, long end)
        {
            float[] scratch = ArrayPool<float>.Shared.Rent(vocabulary);
            try
            {
                body(first, end, scratch);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>bfloat16 to float32: the 16 bits become the high half of the float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Widen(ushort* source, Span<float> destination)
    {
        int n = destination.Length, i = 0;
        fixed (float* d = destination)
        {
            for (; i + 16 <= n; i += 16)
            {
                (Vector256<uint> lo, Vector256<uint> hi) = Vector256.Widen(Vector256.Load(source + i));
                Vector256.ShiftLeft(lo, 16).AsSingle().Store(d + i);
                Vector256.ShiftLeft(hi, 16).AsSingle().Store(d + i + 8);
            }

            for (; i < n; i++)
            {
                ((uint*)d)[i] = (uint)source[i] << 16;
            }
        }
    }

    /// <summary>float32 to bfloat16 with round-to-nearest-even, NaN to 0x7FC0 (c10::BFloat16's rounding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Narrow(ReadOnlySpan<float> source, ushort* destination)
    {
        int n = source.Length, i = 0;
        fixed (float* s = source)
        {
            Vector256<uint> bias = Vector256.Create(0x7FFFu), one = Vector256.Create(1u), nan = Vector256.Create(0x7FC0u);
            for (; i + 16 <= n; i += 16)
            {
                Vector256.Narrow(Round(Vector256.Load(s + i)), Round(Vector256.Load(s + i + 8))).Store(destination + i);
            }

            Vector256<uint> Round(Vector256<float> v)
            {
                Vector256<uint> bits = v.AsUInt32();
                Vector256<uint> rounded = Vector256.ShiftRightLogical(bits + bias + (Vector256.ShiftRightLogical(bits, 16) & one), 16);
                return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, nan);
            }

            for (; i < n; i++)
            {
                destination[i] = ToBFloat16(s[i]);
            }
        }
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
