using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// What the CPU inference kernels (<see cref="CpuGemv"/>, <see cref="CpuRowKernels"/>, <see cref="CpuDecodeAttention"/>)
/// share: which tensors they accept, and bfloat16 conversion.
/// <para>
/// A one-token decoding step on the CPU is a long chain of tiny ops. libtorch costs 1-2 µs of dispatch per op, 8-30 µs
/// for a reduction or a fused attention call, and streams small weights well below the memory bandwidth; these kernels
/// do the same arithmetic in C# SIMD loops (the matrix-vector products split over <see cref="CpuWorkers"/>). They run
/// only in a decoding step, through <see cref="ForwardKernels.CpuDecode"/> (which <see cref="ForwardKernels.For"/>
/// picks once per forward), on float32 and bfloat16 tensors on the CPU that need no autograd; they compute in float32 and round bfloat16 results to nearest even where libtorch rounds, so element-wise
/// results are bit-identical and reductions agree to float32 summation order. Everything else (prefill, recomputation,
/// training, GPU tensors, float16, large inputs) runs libtorch's ops, and so does every forward when the
/// <c>MagDi.DisableCpuKernels</c> <see cref="AppContext"/> switch is set (runtimeconfig <c>configProperties</c> or
/// <see cref="AppContext.SetSwitch"/>).
/// </para>
/// </summary>
internal static class CpuKernels
{
    /// <summary>The <see cref="AppContext"/> switch that turns every kernel off.</summary>
    internal const string DisableSwitch = "MagDi.DisableCpuKernels";

    /// <summary>
    /// The row kernels take inputs up to this many elements (a step's batch × hidden size), the attention kernel caches
    /// up to eight times as many; beyond that, libtorch's per-op overhead no longer dominates and its threads help.
    /// </summary>
    internal const long MaxElements = 1L << 14;

    /// <summary>
    /// True when the kernels may run on these tensors: every non-null tensor is on the CPU, has the first tensor's dtype
    /// (float32 or bfloat16) and needs no gradient.
    /// </summary>
    internal static bool Accept(params ReadOnlySpan<Tensor?> tensors)
    {
        ScalarType dtype = tensors[0]!.dtype;
        if (dtype != ScalarType.Float32 && dtype != ScalarType.BFloat16)
        {
            return false;
        }

        bool grad = is_grad_enabled();
        foreach (Tensor? t in tensors)
        {
            if (t is not null && (t.device_type != DeviceType.CPU || t.dtype != dtype || (grad && t.requires_grad)))
            {
                return false;
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Round to nearest even, as libtorch's c10::BFloat16 does; NaN stays a quiet NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Element <paramref name="i"/> of a float32 (<paramref name="bf16"/> false) or bfloat16 buffer, as float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float Load(byte* p, long i, bool bf16) => bf16 ? BFloat16ToSingle(((ushort*)p)[i]) : ((float*)p)[i];

    /// <summary>Elements [i, i+8) of a float32 or bfloat16 buffer as float32 (a bfloat16 widened and shifted is exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector256<float> Load8(byte* p, long i, bool bf16) => bf16
        ? Vector256.ShiftLeft(Vector256.WidenLower(Vector256.Create(Vector128.Load((ushort*)p + i), default)), 16).AsSingle()
        : Vector256.Load((float*)p + i);

    /// <summary>bfloat16 bit patterns (in the low 16 bits) of eight floats, rounded as <see cref="SingleToBFloat16"/> does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> ToBFloat16Bits(Vector256<float> v)
    {
        Vector256<uint> bits = v.AsUInt32();
        Vector256<uint> rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        Vector256<uint> nan = (bits >> 16) | Vector256.Create(0x40u);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, nan);
    }

    /// <summary>Σ a[ai + i] · b[bi + i] over i &lt; n, both float32 or both bfloat16, accumulated in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float Dot(byte* a, long ai, byte* b, long bi, long n, bool bf16)
    {
        Vector256<float> sums = default;
        long i = 0;
        for (; i + 8 <= n; i += 8)
        {
            sums = Vector256.FusedMultiplyAdd(Load8(a, ai + i, bf16), Load8(b, bi + i, bf16), sums);
        }

        float sum = Vector256.Sum(sums);
        for (; i < n; i++)
        {
            sum += Load(a, ai + i, bf16) * Load(b, bi + i, bf16);
        }

        return sum;
    }

    /// <summary>Stores eight floats at elements [i, i+8), rounded to bfloat16 when <paramref name="bf16"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Store8(byte* p, long i, Vector256<float> v, bool bf16)
    {
        if (bf16)
        {
            Vector256.Narrow(ToBFloat16Bits(v), Vector256<uint>.Zero).GetLower().Store((ushort*)p + i);
        }
        else
        {
            v.Store((float*)p + i);
        }
    }

    /// <summary><see cref="Round(float, bool)"/> for eight floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Round8(Vector256<float> v, bool bf16) => bf16 ? (ToBFloat16Bits(v) << 16).AsSingle() : v;

    /// <summary>Stores <paramref name="value"/> at element <paramref name="i"/>, rounded to bfloat16 when <paramref name="bf16"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Store(byte* p, long i, float value, bool bf16)
    {
        if (bf16)
        {
            ((ushort*)p)[i] = SingleToBFloat16(value);
        }
        else
        {
            ((float*)p)[i] = value;
        }
    }

    /// <summary>The value libtorch stores for a float32 result in <paramref name="bf16"/> precision (rounded, or as is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Round(float value, bool bf16) => bf16 ? BFloat16ToSingle(SingleToBFloat16(value)) : value;
}
