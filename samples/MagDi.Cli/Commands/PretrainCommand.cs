using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Samples;
using MagDi.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary>
/// <c>magdi pretrain --synthetic</c>: the pretraining stage that makes the synthetic experiment's base student
/// (<see cref="SyntheticBaseModel"/>): a BPE tokenizer and a small Llama model trained on textbook solutions, never on
/// teacher output, saved as a Hugging Face checkpoint folder.
/// </summary>
public sealed class PretrainCommand(CliOutput output) : AsyncCommand<PretrainCommand.Settings>
{
    /// <summary>Options of <c>pretrain</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The synthetic recipe.</summary>
        [CommandOption("--synthetic")]
        [Description("Build the base student of the synthetic experiment (the only corpus this verb knows; required).")]
        public bool Synthetic { get; set; }

        /// <summary>Where the base goes.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Folder that receives synthetic-base-<fingerprint>/ (config.json, model.safetensors, tokenizer files, recipe.json). An existing finished base of the same recipe is reused.")]
        public string? Out { get; set; }

        /// <summary>The student's size.</summary>
        [CommandOption("--student <SIZE>")]
        [Description("small (default: 4 layers, width 128, 0.88M parameters) or medium (6 layers, width 192, 2.7M parameters); both ship with the samples.")]
        public string? Student { get; set; }

        /// <summary>Pretraining steps.</summary>
        [CommandOption("--steps <N>")]
        [Description("Pretraining steps (default 3000, the shipped base's).")]
        [NumberRange(1, 10_000_000)]
        public int? Steps { get; set; }

        /// <summary>Corpus size.</summary>
        [CommandOption("--problems <N>")]
        [Description("Problems in the pretraining corpus (default 60000).")]
        [NumberRange(1, 10_000_000)]
        public int? Problems { get; set; }

        /// <summary>Seed.</summary>
        [CommandOption("--seed <S>")]
        [Description("Seed of the corpus, the initial weights and the data order (default 1).")]
        [NumberRange(0, 1_000_000_000)]
        public int? Seed { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (!Synthetic)
            {
                return ValidationResult.Error("pretrain needs --synthetic (the synthetic experiment's corpus; other corpora: PretrainingTrainer in MagDi.Training).");
            }

            if (!SyntheticBaseModels.IsKnown(Student))
            {
                return ValidationResult.Error(SyntheticBaseModels.UnknownStudent(Student));
            }

            return string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out is required.") : ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        SyntheticBaseModelOptions options = SyntheticBaseModels.Recipe(settings.Student ?? "small");
        if (settings.Steps is int steps) options.Training.Steps = steps;
        if (settings.Problems is int problems) options.Problems = problems;
        if (settings.Seed is int seed) options.Seed = seed;
        string target = SyntheticBaseModel.PathFor(settings.Out!, options);
        if (SyntheticBaseModel.IsBuilt(settings.Out!, options))
        {
            await output.Out.WriteLineAsync($"Already built: {target}");
            return ExitCodes.Success;
        }

        string directory = await output.Console.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask("Pretraining", maxValue: options.Training.Steps);
                var progress = new InlineProgress<TrainingProgress>(p =>
                {
                    task.Value = p.Step;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"Pretraining, loss {p.Metrics.GetValueOrDefault(MagDi.Losses.LossReport.Keys.Nll):F3}");
                });
                return await SyntheticBaseModel.EnsureAsync(settings.Out!, options, progress, cancellationToken: cancellationToken);
            });
        await output.Out.WriteLineAsync($"Built {directory}");
        return ExitCodes.Success;
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
