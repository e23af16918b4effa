using System.Diagnostics;

namespace MagDi.Testing;

/// <summary>Builds hostile inputs for the hostile-input tests: FIFOs in place of files, and readers that must not block on them.</summary>
public static class HostileFiles
{
    /// <summary>Creates a FIFO (named pipe) at <paramref name="path"/> with <c>mkfifo</c>; false where there is none (Windows).</summary>
    /// <param name="path">Where to create it.</param>
    /// <returns>Whether the FIFO exists now.</returns>
    public static bool TryCreateFifo(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        using var process = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    /// <summary>
    /// Runs <paramref name="read"/> and returns the exception it throws (null when it returns). When it is still running
    /// after <paramref name="timeout"/> (blocked on the FIFO), the FIFO is opened for writing and closed, which ends the
    /// blocked read, and a <see cref="TimeoutException"/> is thrown: the test fails instead of hanging.
    /// </summary>
    /// <param name="fifo">The FIFO the reader was given.</param>
    /// <param name="read">The read.</param>
    /// <param name="timeout">How long a read may take; 20 seconds by default.</param>
    /// <returns>The exception <paramref name="read"/> threw, or null.</returns>
    public static async Task<Exception?> CaptureWithoutBlocking(string fifo, Func<Task> read, TimeSpan? timeout = null)
    {
        var task = Task.Run(read);
        if (await Task.WhenAny(task, Task.Delay(timeout ?? TimeSpan.FromSeconds(20))).ConfigureAwait(false) != task)
        {
            using (new FileStream(fifo, FileMode.Open, FileAccess.Write))
            {
            }

            await task.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            throw new TimeoutException($"Reading the FIFO {fifo} blocked instead of being refused.");
        }

        try
        {
            await task.ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    /// <summary>Runs <paramref name="read"/> (synchronous) like <see cref="CaptureWithoutBlocking(string, Func{Task}, TimeSpan?)"/>.</summary>
    /// <param name="fifo">The FIFO the reader was given.</param>
    /// <param name="read">The read.</param>
    /// <param name="timeout">How long a read may take; 20 seconds by default.</param>
    /// <returns>The exception <paramref name="read"/> threw, or null.</returns>
    public static Task<Exception?> CaptureWithoutBlocking(string fifo, Action read, TimeSpan? timeout = null) =>
        CaptureWithoutBlocking(fifo, () => Task.Run(read), timeout);
}
