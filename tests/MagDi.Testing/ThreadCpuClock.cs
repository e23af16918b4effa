namespace MagDi.Testing;

/// <summary>
/// Measures the CPU time of the calling thread, for tests that guard against quadratic or runaway code ("finishes in
/// well under a minute"). Wall time is no such guard on a shared machine: other test hosts and processes stretch it
/// several-fold, while the thread's own CPU time stays what the code costs. On Linux it reads
/// /proc/thread-self/schedstat (nanoseconds on the CPU); where that file is missing it falls back to wall time.
/// Use it only around synchronous code that stays on one thread.
/// </summary>
public sealed class ThreadCpuClock
{
    private const string SchedStat = "/proc/thread-self/schedstat";
    private readonly long _startNanoseconds;
    private readonly System.Diagnostics.Stopwatch? _wall;

    private ThreadCpuClock()
    {
        if (TryRead() is { } nanoseconds)
        {
            _startNanoseconds = nanoseconds;
        }
        else
        {
            _wall = System.Diagnostics.Stopwatch.StartNew();
        }
    }

    /// <summary>Whether this clock measures thread CPU time (false: wall time).</summary>
    public bool MeasuresCpuTime => _wall is null;

    /// <summary>CPU time of the calling thread since <see cref="StartNew"/> (wall time where CPU time is unavailable).</summary>
    public TimeSpan Elapsed => _wall?.Elapsed
        ?? TimeSpan.FromTicks(((TryRead() ?? throw new InvalidOperationException($"{SchedStat} could no longer be read.")) - _startNanoseconds) / 100);

    /// <summary>Starts a clock for the calling thread.</summary>
    public static ThreadCpuClock StartNew() => new();

    private static long? TryRead()
    {
        try
        {
            string text = File.ReadAllText(SchedStat);
            return long.Parse(text.AsSpan(0, text.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
