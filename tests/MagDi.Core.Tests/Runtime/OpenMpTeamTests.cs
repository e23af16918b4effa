using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Runtime;

/// <summary>
/// <see cref="OpenMpTeam"/>: the training kernels' parts run on libtorch's OpenMP threads where libtorch uses GNU OpenMP
/// (the Linux x64 CPU build these tests run on), every part exactly once, failures reported after every part returned.
/// </summary>
public sealed class OpenMpTeamTests
{
    /// <summary>TorchSharp-cpu on Linux x64 loads libgomp with libtorch: the team must be found there, or the kernels silently lose it.</summary>
    [Fact]
    public void OnLinuxX64_LibtorchsGnuOpenMpIsFound()
    {
        using Tensor loaded = ones(1); // libtorch (and its libgomp) loaded
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return; // other builds of libtorch bring other OpenMP runtimes: the thread pool serves there
        }

        Assert.True(OpenMpTeam.IsAvailable, "libgomp was not found in /proc/self/maps, or lacks GOMP_parallel");
    }

    /// <summary>With the system's libgomp mapped too, libtorch's (beside libtorch_cpu.so) comes first, whatever the order.</summary>
    [Fact]
    public void LibgompCandidates_PutLibtorchsFirst()
    {
        string[] maps =
        [
            "7f00-7f10 r--p 00000000 08:01 11 /usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0",
            "7f10-7f20 r-xp 00001000 08:01 11 /usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0",
            "7f20-7f30 rw-p 00000000 00:00 0 [heap]",
            "7f30-7f40 r-xp 00000000 08:01 12 /app/runtimes/linux-x64/native/libtorch_cpu.so",
            "7f40-7f50 r-xp 00000000 08:01 13 /app/runtimes/linux-x64/native/libgomp-98b21ff3.so.1",
            "7f50-7f60 r-xp 00000000 00:00 0",
        ];
        Assert.Equal(
            ["/app/runtimes/linux-x64/native/libgomp-98b21ff3.so.1", "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0"],
            OpenMpTeam.LibgompCandidates(maps));
        Assert.Empty(OpenMpTeam.LibgompCandidates(["7f30-7f40 r-xp 00000000 08:01 12 /app/libtorch_cpu.so"]));
    }

    /// <summary>The kernels' row split: contiguous ranges of ⌈count / parts⌉ rows covering every row once, empty ranges left out.</summary>
    [Theory]
    [InlineData(10, 1, new long[] { 0, 10 })]
    [InlineData(10, 2, new long[] { 0, 5, 5, 10 })]
    [InlineData(10, 3, new long[] { 0, 4, 4, 8, 8, 10 })]
    [InlineData(5, 4, new long[] { 0, 2, 2, 4, 4, 5 })]
    public void ForRanges_SplitsRowsIntoContiguousCeilSizedRanges(long count, int parts, long[] bounds)
    {
        using Tensor loaded = ones(1);
        var ranges = new ConcurrentBag<(long First, long End)>();
        OpenMpTeam.ForRanges(count, parts, (first, end) => ranges.Add((first, end)));
        Assert.Equal(bounds, ranges.OrderBy(r => r.First).SelectMany(r => new[] { r.First, r.End }));
        Assert.Throws<ArgumentOutOfRangeException>(() => OpenMpTeam.ForRanges(count, 0, (_, _) => { }));
    }

    [Fact]
    public void For_RunsEveryPartOnce_OnTheCallerAndAnOpenMpThread()
    {
        using Tensor loaded = ones(1);
        if (!OpenMpTeam.IsAvailable)
        {
            return; // covered by the test above where it must be available
        }

        var runs = new ConcurrentDictionary<int, int>();
        var threads = new ConcurrentDictionary<int, bool>(); // managed thread id -> is a .NET thread-pool thread
        int caller = Environment.CurrentManagedThreadId;
        OpenMpTeam.For(parts: 9, threads: 2, part =>
        {
            runs.AddOrUpdate(part, 1, (_, n) => n + 1);
            threads[Environment.CurrentManagedThreadId] = Thread.CurrentThread.IsThreadPoolThread;
            Thread.Sleep(5); // so that one thread cannot take every part before the other starts
        });

        Assert.Equal(Enumerable.Range(0, 9), runs.Keys.Order());
        Assert.All(runs.Values, n => Assert.Equal(1, n));
        Assert.Equal(2, threads.Count);
        Assert.Contains(caller, threads.Keys);
        // The other thread is libgomp's worker, attached to the runtime on its first call: not one of .NET's pool threads.
        Assert.False(threads.Single(t => t.Key != caller).Value, "the second part ran on a .NET thread-pool thread");
    }

    /// <summary>Six parts, <paramref name="failing"/> throwing: the failure is reported, and only after every part ran.</summary>
    private static void AssertFailureReportedAfterEveryPart(int failing)
    {
        var runs = new ConcurrentBag<int>();
        var failure = Assert.Throws<AggregateException>(() => OpenMpTeam.For(parts: 6, threads: 2, part =>
        {
            runs.Add(part);
            if (part == failing)
            {
                throw new InvalidOperationException($"part {failing} failed");
            }
        }));

        Assert.Contains(failure.Flatten().InnerExceptions, e => e is InvalidOperationException { Message: var m } && m == $"part {failing} failed");
        Assert.Equal(Enumerable.Range(0, 6), runs.Order());
    }

    [Fact]
    public void For_APartThatThrows_IsReportedAfterEveryOtherPartRan()
    {
        using Tensor loaded = ones(1);
        AssertFailureReportedAfterEveryPart(failing: 3);
    }

    /// <summary>The thread-pool path (other OpenMP runtimes, or the switch) keeps the same contract: every part runs, failures after.</summary>
    [Fact]
    public void For_WithTheSwitchSet_UsesTheThreadPool_AndKeepsTheContract()
    {
        using Tensor loaded = ones(1);
        AppContext.SetSwitch(OpenMpTeam.DisableSwitch, true);
        try
        {
            Assert.False(OpenMpTeam.IsAvailable);
            AssertFailureReportedAfterEveryPart(failing: 0);
        }
        finally
        {
            AppContext.SetSwitch(OpenMpTeam.DisableSwitch, false);
        }
    }

    [Fact]
    public void For_InsideAPart_RunsTheInnerPartsToo()
    {
        using Tensor loaded = ones(1);
        var inner = new ConcurrentBag<(int Outer, int Inner)>();
        OpenMpTeam.For(parts: 2, threads: 2, outer => OpenMpTeam.For(parts: 3, threads: 2, i => inner.Add((outer, i))));
        Assert.Equal(6, inner.Count);
        Assert.Equal(6, inner.Distinct().Count());
    }

    [Fact]
    public void For_FromSeveralThreadsAtOnce_RunsEachLoopWhole()
    {
        using Tensor loaded = ones(1);
        var sums = new long[4];
        Parallel.For(0, sums.Length, loop => OpenMpTeam.For(parts: 50, threads: 2, part => Interlocked.Add(ref sums[loop], part)));
        Assert.All(sums, s => Assert.Equal(49 * 50 / 2, s));
    }
}
