using System.Runtime.InteropServices;
using MagDi.Runtime;

namespace MagDi.Core.Tests.Runtime;

public sealed class CpuAllocatorTests
{
    [Fact]
    public void EnvironmentWithMallocOptions_IsLeftToTheUser()
    {
        Assert.False(CpuAllocator.EnvironmentConfiguresMalloc(_ => null));
        Assert.False(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "GLIBC_TUNABLES" ? "glibc.pthread.rseq=0" : null));
        Assert.False(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "MALLOC_TRIM_THRESHOLD_" ? "" : null));
        Assert.True(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "MALLOC_TRIM_THRESHOLD_" ? "1000000" : null));
        Assert.True(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "MALLOC_MMAP_THRESHOLD_" ? "65536" : null));
        Assert.True(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "MALLOC_ARENA_MAX" ? "2" : null));
        Assert.True(CpuAllocator.EnvironmentConfiguresMalloc(name => name == "GLIBC_TUNABLES" ? "glibc.pthread.rseq=0:glibc.malloc.trim_threshold=1" : null));
    }

    /// <summary>
    /// The observable effect on glibc: a freed block below 32 MiB goes back to the heap, not to the kernel, so the same
    /// allocation again is served without mapping (and faulting in) fresh pages. The test first puts glibc's mmap
    /// threshold back to its start value, so that without <see cref="CpuAllocator.KeepFreedMemory"/> the 24 MiB block
    /// would be mapped whatever earlier tests freed.
    /// </summary>
    [Fact]
    public void KeepFreedMemory_ServesTensorSizedBlocksFromTheHeap()
    {
        if (!OperatingSystem.IsLinux() || CpuAllocator.EnvironmentConfiguresMalloc(Environment.GetEnvironmentVariable))
        {
            Assert.False(CpuAllocator.KeepFreedMemory()); // not glibc's to tune, or the user's choice
            return;
        }

        // The machines this runs on (CI: Debian 12, glibc 2.36) have mallinfo2 (glibc 2.33 or later).
        Assert.True(NativeLibrary.TryLoad("libc.so.6", out nint libc));
        Assert.True(NativeLibrary.TryGetExport(libc, "mallinfo2", out nint mallinfo2));

        Assert.True(CpuAllocator.SetOption(CpuAllocator.MMmapThreshold, 128 << 10));
        var info = Marshal.GetDelegateForFunctionPointer<MallInfo2Function>(mallinfo2);
        nuint mappedBefore = info().HBlkHd;
        nint probe = Marshal.AllocHGlobal(24 << 20);                   // malloc on Unix
        bool mappedAtStart = info().HBlkHd >= mappedBefore + (24 << 20);
        Marshal.FreeHGlobal(probe);
        Assert.True(mappedAtStart, "at glibc's start threshold a 24 MiB block is mapped; the test cannot tell the difference otherwise");

        Assert.True(CpuAllocator.KeepFreedMemory());
        Assert.True(CpuAllocator.KeepFreedMemory()); // a second call is harmless
        mappedBefore = info().HBlkHd;
        nint block = Marshal.AllocHGlobal(24 << 20);
        nuint mappedWith = info().HBlkHd;
        Marshal.FreeHGlobal(block);
        Assert.True(mappedWith < mappedBefore + (24 << 20), $"a 24 MiB block was mapped ({mappedBefore} -> {mappedWith} bytes in mapped blocks)");
    }

    // struct mallinfo2 { size_t arena, ordblks, smblks, hblks, hblkhd, ... } (glibc >= 2.33): hblkhd = bytes in mapped blocks.
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate MallInfo2 MallInfo2Function();
}
