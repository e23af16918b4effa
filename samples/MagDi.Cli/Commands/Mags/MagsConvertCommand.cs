using System.ComponentModel;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands.Mags;

/// <summary><c>magdi mags convert</c>: any MAG file to MagDi JSON Lines.</summary>
public sealed class MagsConvertCommand(CliOutput output) : AsyncCommand<MagsConvertCommand.Settings>
{
    /// <summary>Options of <c>mags convert</c>.</summary>
    public sealed class Settings : MagInputSettings
    {
        /// <summary>The output JSON Lines file.</summary>
        [CommandOption("--out <FILE>")]
        [Description("The output MagDi JSON Lines file (replaced).")]
        public string? Output { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Output))
            {
                return ValidationResult.Error("--out is required.");
            }

            var target = OutputTargets.File("--out", Output);
            if (!target.Successful)
            {
                return target;
            }

            ValidationResult result = base.Validate();
            return result.Successful ? OutputPaths.CheckNotAnInput("--out", Output, ("--in", Input)) : result;
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var report = new ReadReport();
        // Written to a unique temporary name and renamed into place only when complete (MagFile uses AtomicFile), so a
        // bad record, a full disk or a kill leaves the old output, and no input can share the temporary name.
        AtomicFile.DeleteLeftovers(Path.GetDirectoryName(Path.GetFullPath(settings.Output!))!, Path.GetFileName(settings.Output!));
        int count = await MagFile.WriteJsonlAsync(settings.Output!, MagFile.StreamAsync(settings.Input!, settings.ToReadOptions(), report, cancellationToken), cancellationToken);

        SkipReport.Write(report, output.Error);
        await output.Out.WriteLineAsync($"Converted {count} graph(s) to {settings.Output}.");
        return ExitCodes.Success;
    }
}
