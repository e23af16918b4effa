using System.Runtime.CompilerServices;
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
/// (SplitMix64's finaliser of seed and element index) is at or above <c>round(p · 2^32)</c>: each element is kept
/// independently with probability 1 - p (to within 2^-32), as with <c>bernoulli_</c>, but the masks are a different
/// stream of random numbers. The result does not depend on the number of threads.
/// </remarks>
internal static class LoraDropout
{
    private const int ChunkElements = 1 << 15;
    private const ushort BFloat16One = 0x3F80;

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

        long chunks = (n + ChunkElements - 1) / ChunkElements;
        int workers = (int)Math.Min(Environment.ProcessorCount, chunks);
        if (workers <= 1)
        {
            Fill((ushort*)address, 0, n, (ulong)seed, threshold);
        }
        else
        {
            // Chunks are independent (the hash takes the element index), so any split gives the same mask.
            Parallel.For(0, workers, worker =>
            {
                for (long c = worker; c < chunks; c += workers)
                {
                    long start = c * ChunkElements;
                    Fill((ushort*)address, start, Math.Min(n, start + ChunkElements), (ulong)seed, threshold);
                }
            });
        }

        return mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Fill(ushort* data, long start, long end, ulong seed, uint threshold)
    {
        // Two elements per 64-bit hash: the low half decides element 2i, the high half element 2i + 1.
        long i = start;
        if ((i & 1) != 0)
        {
            data[i] = (uint)(Mix(seed, (ulong)i >> 1) >> 32) >= threshold ? BFloat16One : (ushort)0;
            i++;
        }

        for (; i + 1 < end; i += 2)
        {
            ulong h = Mix(seed, (ulong)i >> 1);
            data[i] = (uint)h >= threshold ? BFloat16One : (ushort)0;
            data[i + 1] = (uint)(h >> 32) >= threshold ? BFloat16One : (ushort)0;
        }

        if (i < end)
        {
            data[i] = (uint)Mix(seed, (ulong)i >> 1) >= threshold ? BFloat16One : (ushort)0;
        }
    }

    /// <summary>SplitMix64's output function applied to the <paramref name="counter"/>-th state after <paramref name="seed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong seed, ulong counter)
    {
        ulong z = seed + ((counter + 1) * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
