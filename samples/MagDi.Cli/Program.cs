using MagDi.Cli;
using MagDi.Runtime;

// Freed tensor memory stays in the C heap for the next step instead of being faulted in again (glibc; docs/performance.md).
CpuAllocator.KeepFreedMemory();

// Ctrl-C cancels the running verb through its CancellationToken (train writes a checkpoint, discuss keeps finished MAGs);
// a second Ctrl-C ends the process.
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!cts.IsCancellationRequested)
    {
        e.Cancel = true;
        Console.Error.WriteLine("Stopping (Ctrl-C again to abort)...");
        cts.Cancel();
    }
};

return await MagDiApp.RunAsync(args, Console.Out, Console.Error, cts.Token);
