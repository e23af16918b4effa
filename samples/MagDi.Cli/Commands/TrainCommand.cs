using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs.IO;
using MagDi.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi train</c>: distil MAGs into a student with LoRA (MagDiTrainer), with a live progress bar and a loss-curve PNG.</summary>
public sealed class TrainCommand(CliOutput output) : AsyncCommand<TrainCommand.Settings>
{
    /// <summary>The loss terms drawn and reported.</summary>
    internal static readonly string[] LossTerms = ["loss/total", "loss/nll", "loss/margin", "loss/node"];

    /// <summary>Options of <c>train</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The student checkpoint.</summary>
        [CommandOption("--model <DIR>")]
        [Description("The student: a Hugging Face checkpoint folder with config.json, safetensors weights and tokenizer files.")]
        public string? Model { get; set; }

        /// <summary>The training MAGs.</summary>
        [CommandOption("--mags <FILE>")]
        [Description("Training MAGs: MagDi JSON Lines or the released JSON array format (e.g. MAG/GSM8K_1000.json).")]
        public string? Mags { get; set; }

        /// <summary>The task of a released file.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task, when a released MAG file's name does not say it.")]
        public string? Task { get; set; }

        /// <summary>The distillation level.</summary>
        [CommandOption("--level <LEVEL>")]
        [Description("round-zero, correct-nodes, all-nodes or structure (default, MAGDi).")]
        [DefaultValue("structure")]
        public string Level { get; set; } = "structure";

        /// <summary>Single-teacher baseline.</summary>
        [CommandOption("--teacher <AGENT>")]
        [Description("Single-teacher baseline: learn from this agent's correct nodes only.")]
        public string? Teacher { get; set; }

        /// <summary>The output folder.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Output folder: adapter, checkpoints, metrics.jsonl and loss-curve.png.")]
        public string? Out { get; set; }

        /// <summary>Epochs.</summary>
        [CommandOption("--epochs <N>")]
        [Description("Epochs (default 10, the paper's recipe).")]
        [DefaultValue(10)]
        public int Epochs { get; set; } = 10;

        /// <summary>Step limit.</summary>
        [CommandOption("--max-steps <N>")]
        [Description("Stop after N optimizer steps (default: epochs decide).")]
        public int? MaxSteps { get; set; }

        /// <summary>Learning rate.</summary>
        [CommandOption("--lr <X>")]
        [Description("Peak learning rate of the LoRA weights (default 5e-6, the paper's).")]
        public double? LearningRate { get; set; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("MAGs per optimizer step, without gradient accumulation (default: 4 MAGs x 4 accumulation steps = 16, the paper's effective batch).")]
        public int? BatchSize { get; set; }

        /// <summary>Warm-up steps.</summary>
        [CommandOption("--warmup-steps <N>")]
        [Description("Linear warm-up steps (default 100, capped by the run's length).")]
        public int? WarmupSteps { get; set; }

        /// <summary>The dtype.</summary>
        [CommandOption("--dtype <DTYPE>")]
        [Description("bf16 (default; about 6x faster on CPU) or f32. LoRA weights and optimizer state stay f32.")]
        [DefaultValue("bf16")]
        public string DType { get; set; } = "bf16";

        /// <summary>The device.</summary>
        [CommandOption("--device <DEVICE>")]
        [Description("auto (default), cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        /// <summary>The seed.</summary>
        [CommandOption("--seed <S>")]
        [Description("Seed of data order, pairing, LoRA init and dropout (default 42).")]
        public int? Seed { get; set; }

        /// <summary>Resume.</summary>
        [CommandOption("--resume")]
        [Description("Continue from the newest checkpoint in --out.")]
        public bool Resume { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("No progress bar; print the final metrics as one JSON object.")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model) || string.IsNullOrWhiteSpace(Mags) || string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--model, --mags and --out are required.");
            }

            if (!Directory.Exists(Model))
            {
                return ValidationResult.Error($"--model: folder '{Model}' does not exist.");
            }

            if (!File.Exists(Mags))
            {
                return ValidationResult.Error($"--mags: file '{Mags}' does not exist.");
            }

            if (ParseLevel(Level) is null)
            {
                return ValidationResult.Error($"--level must be round-zero, correct-nodes, all-nodes or structure (got '{Level}').");
            }

            if (DType.Trim().ToLowerInvariant() is not ("f32" or "float32" or "bf16" or "bfloat16"))
            {
                return ValidationResult.Error($"--dtype must be f32 or bf16 (got '{DType}').");
            }

            if (Epochs < 1 || MaxSteps is < 1 || BatchSize is < 1 || WarmupSteps is < 0)
            {
                return ValidationResult.Error("--epochs, --max-steps and --batch-size must be at least 1, --warmup-steps at least 0.");
            }

            return LearningRate is <= 0 ? ValidationResult.Error($"--lr must be positive (got {LearningRate}).") : ValidationResult.Success();
        }
    }

    /// <summary>Parses a level name of the command line.</summary>
    internal static DistillationLevel? ParseLevel(string name) => name.Trim().ToLowerInvariant() switch
    {
        "round-zero" or "1" => DistillationLevel.RoundZero,
        "correct-nodes" or "2" => DistillationLevel.CorrectNodes,
        "all-nodes" or "3" => DistillationLevel.AllNodes,
        "structure" or "magdi" or "4" => DistillationLevel.Structure,
        _ => null,
    };

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var read = await MagFile.ReadAsync(settings.Mags!, new MagReadOptions { Task = settings.Task }, cancellationToken);
        if (read.Graphs.Count == 0)
        {
            throw new ArgumentException($"--mags: '{settings.Mags}' holds no MAGs.");
        }

        var defaults = new MagDiTrainingOptions();
        int warmup = settings.WarmupSteps ?? Math.Min(defaults.WarmupSteps, Math.Max(0, (settings.MaxSteps ?? int.MaxValue) / 10));
        var builder = MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(settings.Model!, settings.Device, settings.DType)
            .WithTrainingGraphs(read.Graphs)
            .WithLevel(ParseLevel(settings.Level)!.Value)
            .WithOutputDirectory(settings.Out!)
            .WithSchedule(settings.Epochs, warmup, settings.MaxSteps);
        if (settings.Teacher is not null) builder.WithSingleTeacher(settings.Teacher);
        if (settings.BatchSize is int batch) builder.WithBatchSize(batch);
        if (settings.LearningRate is double lr) builder.WithLearningRate(lr);
        if (settings.Seed is int seed) builder.WithSeed(seed);
        if (settings.Resume) builder.ResumeFromLatestCheckpoint();

        TrainingResult result;
        if (settings.Json)
        {
            result = await builder.Build().TrainAsync(cancellationToken);
        }
        else
        {
            result = await output.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("loading and tokenizing", maxValue: 1);
                    TrainingProgress? last = null;
                    builder.UseProgress(new InlineProgress<TrainingProgress>(p =>
                    {
                        last = p;
                        task.MaxValue = Math.Max(1, p.TotalSteps);
                        task.Value = p.Step;
                        task.Description = Markup.Escape(Describe(p));
                        ctx.Refresh();
                    }));
                    var trained = await builder.Build().TrainAsync(cancellationToken);
                    if (last is not null && trained.Status == TrainingStatus.Completed)
                    {
                        task.Value = task.MaxValue;
                    }

                    task.StopTask();
                    ctx.Refresh();
                    return trained;
                });
        }

        string? plot = result.History.Count > 0 ? LossCurve.Write(result.History, Path.Combine(result.OutputDirectory, "loss-curve.png")) : null;
        if (settings.Json)
        {
            var json = new Dictionary<string, object?>();
            foreach (var (key, value) in result.FinalMetrics)
            {
                json[key] = double.IsFinite(value) ? value : null;
            }

            foreach (string term in LossTerms)
            {
                json.TryAdd(term, null);
            }

            // Run-level figures win over the last step's values of the same name.
            foreach (var (key, value) in new Dictionary<string, object?>
            {
                ["status"] = result.Status.ToString().ToLowerInvariant(),
                ["steps"] = result.Steps,
                ["output_directory"] = result.OutputDirectory,
                ["adapter_directory"] = result.FinalModelDirectory,
                ["last_checkpoint"] = result.LastCheckpoint,
                ["loss_curve"] = plot,
                ["tokens_per_second"] = result.TokensPerSecond,
                ["step_time_ms"] = result.StepTimeMs,
                ["duration_seconds"] = result.Duration.TotalSeconds,
                ["validation_loss"] = result.ValidationLoss,
            })
            {
                json[key] = value;
            }

            await output.Out.WriteLineAsync(JsonSerializer.Serialize(json));
        }
        else
        {
            var table = new Table().AddColumn("metric").AddColumn(new TableColumn("final").RightAligned());
            foreach (var (key, value) in result.FinalMetrics.Where(kv => kv.Key is not ("tokens_per_second" or "step_time_ms")).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                table.AddRow(Markup.Escape(key), value.ToString("G5", CultureInfo.InvariantCulture));
            }

            table.AddRow("tokens_per_second (run)", result.TokensPerSecond.ToString("F1", CultureInfo.InvariantCulture));
            table.AddRow("step_time_ms (run mean)", result.StepTimeMs.ToString("F1", CultureInfo.InvariantCulture));
            output.Console.Write(table);
            await output.Out.WriteLineAsync($"{result.Status}: {result.Steps} step(s). Adapter: {result.FinalModelDirectory}" + (plot is null ? string.Empty : $". Loss curve: {plot}"));
        }

        if (result.Status == TrainingStatus.Cancelled)
        {
            await output.Error.WriteLineAsync($"cancelled; checkpoint {result.LastCheckpoint}. Run again with --resume to continue.");
            return ExitCodes.Cancelled;
        }

        return ExitCodes.Success;
    }

    private static string Describe(TrainingProgress p)
    {
        var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"step {p.Step}/{p.TotalSteps}") };
        foreach (string term in LossTerms)
        {
            if (p.Metrics.TryGetValue(term, out double v))
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{term[5..]} {v:F4}"));
            }
        }

        parts.Add(string.Create(CultureInfo.InvariantCulture, $"{p.TokensPerSecond:F0} tok/s"));
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"ETA {p.EstimatedRemaining:hh\\:mm\\:ss}"));
        return string.Join("  ", parts);
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (unlike <see cref="Progress{T}"/>).</summary>
/// <typeparam name="T">The report type.</typeparam>
/// <param name="handler">Called with each report.</param>
internal sealed class InlineProgress<T>(Action<T> handler) : IProgress<T>
{
    /// <inheritdoc />
    public void Report(T value) => handler(value);
}
