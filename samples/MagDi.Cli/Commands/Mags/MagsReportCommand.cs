using System.ComponentModel;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands.Mags;

/// <summary><c>magdi mags report</c>: an HTML report with statistics tables and a few rendered graphs.</summary>
public sealed class MagsReportCommand(CliOutput output) : AsyncCommand<MagsReportCommand.Settings>
{
    /// <summary>Options of <c>mags report</c>.</summary>
    public sealed class Settings : MagInputSettings
    {
        /// <summary>The most graphs drawn in one report (each one is an inline SVG, and candidates are kept in memory).</summary>
        public const int MaxExamples = 100;

        /// <summary>The HTML file to write.</summary>
        [CommandOption("--out <FILE>")]
        [Description("The HTML file to write.")]
        public string? Output { get; set; }

        /// <summary>How many graphs to draw.</summary>
        [CommandOption("--examples <N>")]
        [Description("How many graphs to draw (one per graph type first). Default 4.")]
        [DefaultValue(4)]
        [NumberRange(0, MaxExamples)]
        public int Examples { get; set; } = 4;

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Output))
            {
                return ValidationResult.Error("--out is required.");
            }

            if (Examples is < 0 or > MaxExamples)
            {
                return ValidationResult.Error($"--examples must be a whole number from 0 to {MaxExamples} (got {Examples}).");
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
        var builder = new MagStatisticsBuilder();
        var candidates = new List<InteractionGraph>();
        var types = new HashSet<int>();
        await foreach (var g in MagFile.StreamAsync(settings.Input!, settings.ToReadOptions(), report, cancellationToken))
        {
            builder.Add(g);
            if (types.Add(g.InteractionRounds) || candidates.Count < settings.Examples)
            {
                candidates.Add(g); // bounded: at most Examples + number of graph types
            }
        }

        SkipReport.Write(report, output.Error);
        var examples = MagHtmlReport.PickExamples(candidates, settings.Examples);
        var html = MagHtmlReport.Render(builder.Build(), examples, $"MAG report: {Path.GetFileName(settings.Input)}");
        await AtomicFile.WriteAllTextAsync(settings.Output!, html, cancellationToken);
        await output.Out.WriteLineAsync($"Wrote {Terminal.Clean(settings.Output)} ({examples.Count} graph(s) drawn).");
        return ExitCodes.Success;
    }
}
