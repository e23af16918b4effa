using System.Runtime.InteropServices;

namespace MagDi.Runtime;

/// <summary>
/// Process-wide tuning of the C allocator that libtorch's CPU tensors come from (glibc <c>malloc</c> on Linux).
/// </summary>
/// <remarks>
/// <para>
/// A training or decoding step frees and allocates the same activation tensors again and again. glibc serves a block
/// above its mmap threshold (128 KiB at start, raised on its own as large blocks are freed, up to 32 MiB) with a fresh
/// <c>mmap</c> and unmaps it when it is freed, and gives the top of its heap back to the kernel once more than the trim
/// threshold is free. Every page of such a block is then faulted in and zeroed by the kernel again on first write,
/// every step. How often that happens depends on the order in which blocks were freed earlier in the process (here:
/// when the .NET garbage collector finalized tensors), so the same bf16 + LoRA training step took between 91 and
/// 8,569 page faults in four runs of the same program. On a virtual machine a page fault is expensive.
/// </para>
/// <para>
/// <see cref="KeepFreedMemory"/> fixes the mmap threshold at its largest value and raises the trim threshold, so that
/// freed tensor memory stays in the heap and the next step reuses it. The process's resident memory then stays near
/// its peak until it exits. It changes the allocator of the whole process, so it is the application's call, like
/// <c>torch.set_num_threads</c>: the <c>magdi</c> command line, the quickstart and the benchmarks make it at start-up.
/// It does nothing on other systems and C libraries, and nothing when the environment already sets glibc's malloc
/// options (<c>MALLOC_*_</c> variables or <c>glibc.malloc</c> tunables in <c>GLIBC_TUNABLES</c>): those are the
/// user's choice.
/// </para>
/// </remarks>
public static class CpuAllocator
{
    // glibc <malloc.h>
    private const int MTrimThreshold = -1;

    /// <summary>glibc's <c>M_MMAP_THRESHOLD</c> parameter of <c>mallopt</c>.</summary>
    internal const int MMmapThreshold = -3;

    /// <summary>The mmap threshold this sets: glibc's largest on 64-bit systems (HEAP_MAX_SIZE / 2). Larger blocks are still mapped.</summary>
    internal const int MmapThresholdBytes = 32 << 20;

    /// <summary>Free memory at the top of a heap that glibc keeps before giving it back to the kernel.</summary>
    internal const int TrimThresholdBytes = 512 << 20;

    private static readonly string[] MallocVariables = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX"];

    /// <summary>
    /// Keeps freed blocks of up to 32 MiB in the C heap for reuse instead of returning them to the kernel (glibc on
    /// Linux; see the remarks of <see cref="CpuAllocator"/>). Safe to call more than once.
    /// </summary>
    /// <returns>True when the allocator was tuned; false on other systems or C libraries, or when the environment
    /// already configures glibc's malloc.</returns>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || EnvironmentConfiguresMalloc(Environment.GetEnvironmentVariable))
        {
            return false;
        }

        return SetOption(MMmapThreshold, MmapThresholdBytes) && SetOption(MTrimThreshold, TrimThresholdBytes);
    }

    /// <summary>glibc's <c>mallopt(param, value)</c>; false when it fails or this is not glibc.</summary>
    internal static unsafe bool SetOption(int param, int value)
    {
        // libc.so.6 is glibc's soname (musl's libc is libc.so); mallopt is glibc's interface.
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out nint libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out nint address))
        {
            return false;
        }

        return ((delegate* unmanaged<int, int, int>)address)(param, value) != 0;
    }

    /// <summary>True when any glibc malloc option is set in the environment <paramref name="lookup"/> reads.</summary>
    internal static bool EnvironmentConfiguresMalloc(Func<string, string?> lookup) =>
        MallocVariables.Any(name => !string.IsNullOrEmpty(lookup(name)))
        || (lookup("GLIBC_TUNABLES") is { } tunables && tunables.Contains("glibc.malloc.", StringComparison.Ordinal));
}
