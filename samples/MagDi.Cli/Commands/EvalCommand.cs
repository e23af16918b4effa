using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using MagDi.Cli.Infrastructure;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi eval</c>: accuracy of a predictions file (produced anywhere) on a benchmark file.</summary>
public sealed class EvalCommand(CliOutput output) : AsyncCommand<EvalCommand.Settings>
{
    /// <summary>Options of <c>eval</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The task.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task: gsm8k, svamp, math, strategyqa (sqa), boolq, commonsenseqa (ecqa, csqa), arc, aqua, or a registered task.")]
        public string? Task { get; set; }

        /// <summary>The benchmark file.</summary>
        [CommandOption("--test <FILE>")]
        [Description("The benchmark file in its public format (see docs/tasks.md).")]
        public string? Test { get; set; }

        /// <summary>The predictions file.</summary>
        [CommandOption("--predictions <FILE>")]
        [Description("JSON Lines: {\"id\": ..., \"prediction\": \"model output\"} or {\"id\": ..., \"answer\": \"...\"} per line.")]
        public string? Predictions { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("Print {\"task\",\"count\",\"correct\",\"accuracy\"} as JSON.")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Task) || string.IsNullOrWhiteSpace(Test) || string.IsNullOrWhiteSpace(Predictions))
            {
                return ValidationResult.Error("--task, --test and --predictions are required.");
            }

            return ReasoningTasks.TryGet(Task, out _)
                ? ValidationResult.Success()
                : ValidationResult.Error($"Unknown task '{Task}'. Known tasks: {string.Join(", ", ReasoningTasks.KnownNames)}.");
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var result = await Scoring.ScoreFilesAsync(settings.Task!, settings.Test!, settings.Predictions!, null, cancellationToken);
        if (settings.Json)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["task"] = result.Task,
                ["count"] = result.Count,
                ["correct"] = result.Correct,
                ["accuracy"] = result.Accuracy,
            });
            await output.Out.WriteLineAsync(json);
        }
        else
        {
            await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{result.Task}: {result.Correct}/{result.Count} correct, accuracy {result.Accuracy:P2} ({result.Missing} without prediction, {result.Unanswered} without an extractable answer)"));
        }

        if (result.Missing > 0)
        {
            await output.Error.WriteLineAsync($"warning: {result.Missing} question(s) had no prediction and count as wrong.");
        }

        return ExitCodes.Success;
    }
}
