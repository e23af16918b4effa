using MagDi.Testing;

namespace MagDi.Graphs.Tests;

/// <summary>The CPU-time clock that the complexity guards use: it advances with work and not with waiting.</summary>
public class ThreadCpuClockTests
{
    [Fact]
    public void Elapsed_AdvancesWhileTheThreadComputes()
    {
        var clock = ThreadCpuClock.StartNew();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        double x = 0;
        while (clock.Elapsed < TimeSpan.FromMilliseconds(50) && wall.Elapsed < TimeSpan.FromSeconds(60))
        {
            for (int i = 0; i < 100_000; i++)
            {
                x += Math.Sqrt(i);
            }
        }

        Assert.True(x > 0);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(50), $"50 ms of work never showed: {clock.Elapsed} after {wall.Elapsed}");
    }

    [Fact]
    public void Elapsed_BarelyMovesWhileTheThreadSleeps()
    {
        var clock = ThreadCpuClock.StartNew();
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(clock.MeasuresCpuTime); // no /proc: wall time, which a sleep does move
            return;
        }

        Assert.True(clock.MeasuresCpuTime, "/proc/thread-self/schedstat could not be read");
        TimeSpan before = clock.Elapsed;
        Thread.Sleep(300);
        Assert.True(clock.Elapsed - before < TimeSpan.FromMilliseconds(150), $"sleeping 300 ms cost {clock.Elapsed - before} of CPU time");
    }
}
