using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Lora;

/// <summary>
/// Dropout keep-masks for the bfloat16 LoRA branch on the CPU, drawn in C# instead of by libtorch's <c>bernoulli_</c>.
/// </summary>
/// <remarks>
/// libtorch draws a CPU dropout mask element by element from its generator (under a lock, on one thread): for a
/// [2056, 384] input that took longer than the projection's matrix product. Here each call draws ONE 63-bit seed from
/// torch's global CPU generator (so <see cref="torch.manual_seed"/>, and the generator state that activation
/// checkpointing saves and restores, reproduce the masks), and every element is kept when a counter-based hash
/// (MurmurHash3's finaliser of the element index, keyed by the seed) is at or above <c>round(p · 2^32)</c>: each element is kept
/// independently with probability 1 - p (to within 2^-32), as with <c>bernoulli_</c>, but the masks are a different
/// stream of random numbers. The result does not depend on the number of threads or on vector support.
/// </remarks>
internal static class LoraDropout
{
    private const int ChunkElements = 1 << 15;
    private const ushort BFloat16One = 0x3F80;
    private const uint Golden = 0x9E3779B9;
    private const ushort ExponentBits = 0x7F80;
    private const ushort MantissaBits = 0x007F;
    private const ushort SignBit = 0x8000;
    private const ushort BFloat16NaN = 0x7FC0;

    /// <summary>Draws the seed of the next mask from torch's global CPU generator.</summary>
    public static long DrawSeed()
    {
        using Tensor draw = randint(0, long.MaxValue, [1], dtype: ScalarType.Int64, device: CPU);
        return draw.item<long>();
    }

    /// <summary>A bfloat16 tensor of <paramref name="shape"/> holding 1 (keep, probability 1 - <paramref name="p"/>) or 0 (drop).</summary>
    public static unsafe Tensor KeepMask(long[] shape, double p, long seed)
    {
        if (!(p >= 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout must be in [0, 1).");
        }

        Tensor mask = empty(shape, ScalarType.BFloat16, CPU);
        long n = mask.numel();
        uint threshold = (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
        nint address;
        fixed (byte* bytes = mask.bytes)
        {
            address = (nint)bytes; // libtorch memory: it does not move
        }

        ForChunks(n, (start, end) => Fill((ushort*)address, start, end, (ulong)seed, threshold));
        return mask;
    }

    /// <summary>
    /// <paramref name="source"/> ⊙ <see cref="KeepMask"/>(source.shape, p, seed) in one pass, without a mask tensor: bit for
    /// bit the bfloat16 product libtorch computes (kept elements unchanged, dropped ones a zero of their sign), except that
    /// NaN, and infinity times 0, are written as the NaN 0x7FC0 (libtorch's vector and scalar paths differ in NaN bits).
    /// </summary>
    /// <param name="source">A bfloat16 CPU tensor; element i of its contiguous layout takes mask element i.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="seed">The mask's seed (<see cref="DrawSeed"/>).</param>
    public static unsafe Tensor Apply(Tensor source, double p, long seed)
    {
        if (!(p >= 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout must be in [0, 1).");
        }

        using Tensor input = source.contiguous();
        Tensor output = empty(input.shape, ScalarType.BFloat16, CPU);
        long n = output.numel();
        uint threshold = (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
        nint from, to;
        fixed (byte* a = input.bytes, b = output.bytes)
        {
            (from, to) = ((nint)a, (nint)b); // libtorch memory: it does not move
        }

        ForChunks(n, (start, end) => FillMasked((ushort*)from, (ushort*)to, start, end, (ulong)seed, threshold));
        return output;
    }

    private static void ForChunks(long n, Action<long, long> fill)
    {
        long chunks = (n + ChunkElements - 1) / ChunkElements;
        int workers = (int)Math.Min(Environment.ProcessorCount, chunks);
        if (workers <= 1)
        {
            fill(0, n);
            return;
        }

        // Chunks are independent (the hash takes the element index), so any split gives the same result.
        MagDi.Runtime.OpenMpTeam.For(workers, get_num_threads(), worker =>
        {
            for (long c = worker; c < chunks; c += workers)
            {
                long start = c * ChunkElements;
                fill(start, Math.Min(n, start + ChunkElements));
            }
        });
    }

    /// <summary>destination[i] = source[i] · keep(i) as libtorch's bfloat16 product computes it, keep(i) as in <see cref="Fill"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void FillMasked(ushort* source, ushort* destination, long start, long end, ulong seed, uint threshold)
    {
        uint key = ChunkKey(seed, start);
        uint index = (uint)start;
        long i = start;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> keys = Vector256.Create(key);
            Vector256<uint> limit = Vector256.Create(threshold);
            Vector256<ushort> exponent = Vector256.Create(ExponentBits), mantissa = Vector256.Create(MantissaBits);
            Vector256<ushort> sign = Vector256.Create(SignBit), nan = Vector256.Create(BFloat16NaN);
            for (; i + 16 <= end; i += 16, index += 16)
            {
                var (keepLo, keepHi) = Keep16(index, keys, limit);
                Vector256<ushort> keep = Vector256.Narrow(keepLo, keepHi);                     // 0xFFFF keep, 0 drop
                Vector256<ushort> x = Vector256.Load(source + i);
                Vector256<ushort> special = Vector256.Equals(x & exponent, exponent);          // infinity or NaN
                Vector256<ushort> toNaN = special & (~keep | ~Vector256.Equals(x & mantissa, Vector256<ushort>.Zero));
                Vector256.ConditionalSelect(toNaN, nan, Vector256.ConditionalSelect(keep, x, x & sign)).Store(destination + i);
            }
        }

        for (; i < end; i++, index++)
        {
            destination[i] = Times(source[i], Kept(index, key, threshold));
        }
    }

    /// <summary>A bfloat16 value times 1 (kept) or 0 (dropped), rounded as libtorch rounds the float product.</summary>
    private static ushort Times(ushort x, bool keep)
    {
        bool special = (x & ExponentBits) == ExponentBits;
        if (special && (!keep || (x & MantissaBits) != 0))
        {
            return BFloat16NaN;
        }

        return keep ? x : (ushort)(x & SignBit);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Fill(ushort* data, long start, long end, ulong seed, uint threshold)
    {
        uint key = ChunkKey(seed, start);
        uint index = (uint)start;
        long i = start;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> keys = Vector256.Create(key);
            Vector256<uint> limit = Vector256.Create(threshold);
            Vector256<uint> one = Vector256.Create((uint)BFloat16One);
            for (; i + 16 <= end; i += 16, index += 16)
            {
                var (keepLo, keepHi) = Keep16(index, keys, limit);
                Vector256.Narrow(keepLo & one, keepHi & one).Store(data + i);
            }
        }

        for (; i < end; i++, index++)
        {
            data[i] = Kept(index, key, threshold) ? BFloat16One : (ushort)0;
        }
    }

    // Element i is kept when Hash(i) >= threshold; Fill (the mask) and FillMasked (x ⊙ mask) both decide it here, so the
    // dropout node redraws exactly the mask KeepMask draws. The key mixes the seed with the high half of i, so a chunk
    // (2^15 elements, never across a 2^32 boundary) hashes its 32-bit low indices with one key, 16 per step.

    /// <summary>The hash key of the chunk starting at element <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ChunkKey(ulong seed, long start) => Fmix((uint)seed ^ Fmix((uint)(seed >> 32) + (uint)((ulong)start >> 32)));

    /// <summary>Whether the element with 32-bit low index <paramref name="index"/> is kept under <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Kept(uint index, uint key, uint threshold) => Fmix(Fmix(index * Golden) ^ key) >= threshold;

    /// <summary><see cref="Kept"/> for elements index … index + 15: all-ones lanes where kept, as two halves of eight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> Low, Vector256<uint> High) Keep16(uint index, Vector256<uint> keys, Vector256<uint> limit)
    {
        Vector256<uint> lo = Vector256.Create(index) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        Vector256<uint> hi = lo + Vector256.Create(8u);
        return (Vector256.GreaterThanOrEqual(Fmix(Fmix(lo * Golden) ^ keys), limit),
                Vector256.GreaterThanOrEqual(Fmix(Fmix(hi * Golden) ^ keys), limit));
    }

    /// <summary>MurmurHash3's 32-bit finaliser (a bijection with full avalanche).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Fmix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6B;
        h ^= h >> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Fmix(Vector256<uint> h)
    {
        h ^= Vector256.ShiftRightLogical(h, 16);
        h *= Vector256.Create(0x85EBCA6Bu);
        h ^= Vector256.ShiftRightLogical(h, 13);
        h *= Vector256.Create(0xC2B2AE35u);
        return h ^ Vector256.ShiftRightLogical(h, 16);
    }
}
