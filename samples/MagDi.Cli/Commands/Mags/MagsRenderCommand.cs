using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands.Mags;

/// <summary><c>magdi mags render</c>: one MAG as SVG.</summary>
public sealed class MagsRenderCommand(CliOutput output) : AsyncCommand<MagsRenderCommand.Settings>
{
    /// <summary>Options of <c>mags render</c>.</summary>
    public sealed class Settings : MagInputSettings
    {
        /// <summary>The 0-based position of the graph in the file.</summary>
        [CommandOption("--index <N>")]
        [Description("The 0-based position of the graph in the file.")]
        [NumberRange(0, int.MaxValue)]
        public int? Index { get; set; }

        /// <summary>The graph id.</summary>
        [CommandOption("--id <ID>")]
        [Description("The graph (question) id.")]
        public string? Id { get; set; }

        /// <summary>The SVG file to write.</summary>
        [CommandOption("--out <FILE>")]
        [Description("The SVG file to write.")]
        public string? Output { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Output))
            {
                return ValidationResult.Error("--out is required.");
            }

            if ((Index is null) == (Id is null))
            {
                return ValidationResult.Error("Give exactly one of --index and --id.");
            }

            if (Index < 0)
            {
                return ValidationResult.Error($"--index must be a whole number from 0 to {int.MaxValue} (got {Index}).");
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
        var position = 0;
        InteractionGraph? found = null;
        await foreach (var g in MagFile.StreamAsync(settings.Input!, settings.ToReadOptions(), report, cancellationToken))
        {
            if (settings.Index == position || (settings.Id is not null && string.Equals(g.Id, settings.Id, StringComparison.Ordinal)))
            {
                found = g;
                break;
            }

            position++;
        }

        SkipReport.Write(report, output.Error);
        if (found is null)
        {
            var what = settings.Id is not null ? $"id '{Terminal.Clean(settings.Id)}'" : string.Create(CultureInfo.InvariantCulture, $"index {settings.Index} (the file has {position} graph(s))");
            throw new ArgumentException($"{settings.Input}: no graph with {what}.");
        }

        await AtomicFile.WriteAllTextAsync(settings.Output!, MagSvgRenderer.Render(found), cancellationToken);
        // The id comes from the file: escape control characters (ANSI sequences, newlines) before printing it.
        await output.Out.WriteLineAsync($"Rendered {Terminal.Clean(found.Id)} (G{found.InteractionRounds}, {found.Nodes.Count} nodes) to {Terminal.Clean(settings.Output)}.");
        return ExitCodes.Success;
    }
}
