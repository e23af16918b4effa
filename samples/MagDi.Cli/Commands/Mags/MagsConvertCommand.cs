using System.ComponentModel;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs.IO;
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

            var output = OutputTargets.File("--out", Output);
            return output.Successful ? base.Validate() : output;
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var report = new ReadReport();
        var temp = settings.Output + ".tmp";
        int count;
        try
        {
            count = await MagFile.WriteJsonlAsync(temp, MagFile.StreamAsync(settings.Input!, settings.ToReadOptions(), report, cancellationToken), cancellationToken);
            File.Move(temp, settings.Output!, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }

        SkipReport.Write(report, output.Error);
        await output.Out.WriteLineAsync($"Converted {count} graph(s) to {settings.Output}.");
        return ExitCodes.Success;
    }
}
