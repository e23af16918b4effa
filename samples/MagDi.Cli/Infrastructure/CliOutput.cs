using Spectre.Console;

namespace MagDi.Cli.Infrastructure;

/// <summary>Where commands write: results to <see cref="Out"/> (or tables to <see cref="Console"/>), diagnostics to <see cref="Error"/>.</summary>
/// <param name="Out">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="Console">A Spectre console over <paramref name="Out"/> for tables.</param>
public sealed record CliOutput(TextWriter Out, TextWriter Error, IAnsiConsole Console)
{
    /// <summary>Whether <c>--verbose</c> (or <c>MAGDI_VERBOSE=1</c>) asked for stack traces and information messages.</summary>
    public bool Verbose { get; init; }
}
