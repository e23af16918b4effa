using MagDi.Quickstart;
using Spectre.Console;

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
    QuickstartReport report = await new QuickstartRunner(options).RunAsync(cts.Token);
    return report.Rows.Skip(1).Max(r => r.Accuracy) > report.Rows[0].Accuracy ? 0 : 1;
}
catch (OperationCanceledException)
{
    AnsiConsole.MarkupLine("[yellow]Cancelled.[/]");
    return 130;
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
