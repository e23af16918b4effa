using MagDi.Quickstart;
using MagDi.Runtime;
using Spectre.Console;

// Freed tensor memory stays in the C heap for the next step instead of being faulted in again (glibc; docs/performance.md).
CpuAllocator.KeepFreedMemory();

QuickstartOptions options;
try
{
    options = QuickstartOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

try
{
    await new QuickstartRunner(options).RunAsync(cts.Token);
    return 0;
}
catch (OperationCanceledException)
{
    AnsiConsole.MarkupLine("[yellow]Cancelled; finished runs are kept and reused by the next run with the same --out.[/]");
    return 130;
}
catch (Exception ex) when (ex is ArgumentException or IOException or InvalidDataException or Microsoft.Extensions.Options.OptionsValidationException
    or MagDi.Training.TrainingDataException or MagDi.Modeling.NonFiniteException or MagDi.Training.TrainingDivergedException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}
