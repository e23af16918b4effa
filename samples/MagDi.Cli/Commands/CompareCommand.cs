using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Training.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary>
/// <c>magdi compare</c>: rows of two experiment output folders against each other, paired by seed and test question,
/// with the experiment's own paired bootstrap (<see cref="ExperimentRunComparer"/>).
/// </summary>
public sealed class CompareCommand(CliOutput output) : Command<CompareCommand.Settings>
{
    /// <summary>Options of <c>compare</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The first experiment output folder.</summary>
        [CommandArgument(0, "<FOLDER_A>")]
        [Description("An experiment output folder (holding runs/, or experiment/runs/ as the quickstart writes it).")]
        public string FolderA { get; set; } = string.Empty;

        /// <summary>The second experiment output folder.</summary>
        [CommandArgument(1, "<FOLDER_B>")]
        [Description("The experiment output folder to compare with (may be the same folder, to compare two of its rows).")]
        public string FolderB { get; set; } = string.Empty;

        /// <summary>The rows to compare.</summary>
        [CommandOption("--rows <ROWS>")]
        [Description("Rows to compare, separated by commas: a row name or slug (level-4-magdi), or A_ROW:B_ROW to compare two different rows. Default: every row both folders ran.")]
        public string? Rows { get; set; }

        /// <summary>The seeds to pair.</summary>
        [CommandOption("--seeds <SEEDS>")]
        [Description("Seeds to pair, separated by commas (1,2,3). Default: every seed both rows ran.")]
        public string? Seeds { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            foreach (var (name, folder) in new[] { ("<FOLDER_A>", FolderA), ("<FOLDER_B>", FolderB) })
            {
                if (!Directory.Exists(folder))
                {
                    return ValidationResult.Error($"{name}: folder '{Terminal.Clean(folder)}' does not exist.");
                }
            }

            if (Rows is not null && ParseRows(Rows).Any(pair => pair.A.Length == 0 || pair.B.Length == 0))
            {
                return ValidationResult.Error($"--rows: '{Terminal.Clean(Rows)}' has an empty row name; give ROW or A_ROW:B_ROW separated by commas.");
            }

            if (Seeds is not null && ParseSeeds(Seeds) is null)
            {
                return ValidationResult.Error($"--seeds: '{Terminal.Clean(Seeds)}' is not a list of integers separated by commas (for example 1,2,3).");
            }

            return ValidationResult.Success();
        }

        /// <summary>The (row of A, row of B) pairs of <paramref name="rows"/>.</summary>
        internal static IReadOnlyList<(string A, string B)> ParseRows(string rows) =>
            [.. rows.Split(',').Select(spec => spec.Split(':')).Select(parts => parts.Length == 2 ? (parts[0].Trim(), parts[1].Trim()) : parts.Length == 1 ? (parts[0].Trim(), parts[0].Trim()) : (string.Empty, string.Empty))];

        /// <summary>The seeds of <paramref name="seeds"/>, or null when it is not a comma-separated list of integers.</summary>
        internal static IReadOnlyList<int>? ParseSeeds(string seeds)
        {
            var parsed = new List<int>();
            foreach (string part in seeds.Split(','))
            {
                if (!int.TryParse(part.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed))
                {
                    return null;
                }

                parsed.Add(seed);
            }

            return parsed;
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        IReadOnlyList<(string A, string B)> rows = settings.Rows is { } given
            ? Settings.ParseRows(given)
            : [.. ExperimentRunComparer.Rows(settings.FolderA).Intersect(ExperimentRunComparer.Rows(settings.FolderB), StringComparer.Ordinal).Select(row => (row, row))];
        if (rows.Count == 0)
        {
            throw new InvalidDataException($"'{settings.FolderA}' and '{settings.FolderB}' have no row in common; name the rows to compare with --rows A_ROW:B_ROW.");
        }

        IReadOnlyList<int>? seeds = settings.Seeds is { } s ? Settings.ParseSeeds(s) : null;
        // Every comparison first, so that a missing run fails before anything is printed.
        var comparisons = rows.Select(row => ExperimentRunComparer.Compare(settings.FolderA, row.A, settings.FolderB, row.B, seeds)).ToList();
        output.Out.WriteLine($"A: {Terminal.Clean(settings.FolderA)}");
        output.Out.WriteLine($"B: {Terminal.Clean(settings.FolderB)}");
        output.Out.WriteLine("Paired bootstrap over seeds and test questions (10,000 resamples, as the experiment's own table); points.");
        output.Out.WriteLine();
        output.Out.Write(ExperimentRunComparer.Markdown(comparisons));
        output.Out.WriteLine();
        output.Out.WriteLine("* the interval excludes 0");
        return ExitCodes.Success;
    }
}
