using System.ComponentModel;
using Spectre.Console.Cli;

namespace MagDi.Cli.Infrastructure;

/// <summary>Options every verb takes: <c>--verbose</c>.</summary>
public class CliSettings : CommandSettings
{
    /// <summary>The option name, also read from the raw arguments before parsing (so it works when parsing fails).</summary>
    public const string VerboseOption = "--verbose";

    /// <summary>The environment variable that turns on <see cref="Verbose"/> (<c>1</c> or <c>true</c>).</summary>
    public const string VerboseVariable = "MAGDI_VERBOSE";

    /// <summary>Show the .NET stack trace of an error.</summary>
    [CommandOption(VerboseOption)]
    [Description("On an error, also print the .NET stack trace (for bug reports); MAGDI_VERBOSE=1 does the same.")]
    public bool Verbose { get; set; }

    /// <summary>Whether <c>--verbose</c> is among <paramref name="args"/> or <see cref="VerboseVariable"/> is set.</summary>
    /// <param name="args">The raw command-line arguments.</param>
    /// <returns>True to show stack traces.</returns>
    public static bool IsVerbose(IEnumerable<string> args)
    {
        string? env = Environment.GetEnvironmentVariable(VerboseVariable);
        return args.Contains(VerboseOption, StringComparer.Ordinal)
            || string.Equals(env, "1", StringComparison.Ordinal)
            || string.Equals(env, "true", StringComparison.OrdinalIgnoreCase);
    }
}
