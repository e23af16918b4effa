using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.Heads;
using MagDi.Graphs.IO;
using MagDi.Losses;
using MagDi.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi train</c>: distil MAGs into a student with LoRA (MagDiTrainer), with a live progress bar and a loss-curve PNG.</summary>
public sealed class TrainCommand(CliOutput output) : AsyncCommand<TrainCommand.Settings>
{
    /// <summary>The loss terms drawn and reported.</summary>
    internal static readonly string[] LossTerms = ["loss/total", "loss/nll", "loss/margin", "loss/node"];

    /// <summary>The loss terms drawn and shown in the progress line: MAGDi's and DSS-MT's (only those a run reports appear).</summary>
    internal static readonly string[] PlotTerms = [.. LossTerms, "loss/label", "loss/rationale"];

    /// <summary>Options of <c>train</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The student checkpoint.</summary>
        [CommandOption("--model <DIR>")]
        [Description("The student: a Hugging Face checkpoint folder with config.json, safetensors weights and tokenizer files.")]
        public string? Model { get; set; }

        /// <summary>The training MAG files.</summary>
        [CommandOption("--mags <FILE>")]
        [Description("Training MAGs: MagDi JSON Lines or the released JSON array format (e.g. MAG/GSM8K_1000.json). Repeat for multi-task training (MAGDi-MT) over several tasks' files.")]
        public string[] Mags { get; set; } = [];

        /// <summary>The task of a released file.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task, when a released MAG file's name does not say it (applies to every --mags and --validation-mags file).")]
        public string? Task { get; set; }

        /// <summary>Validation MAG files.</summary>
        [CommandOption("--validation-mags <FILE>")]
        [Description("Held-out MAGs whose correct chains give a validation loss (validation/nll), at the end and every --eval-every steps. Repeatable.")]
        public string[] ValidationMags { get; set; } = [];

        /// <summary>Validation interval.</summary>
        [CommandOption("--eval-every <N>")]
        [Description("Compute the validation loss every N optimizer steps (default: only at the end). Needs --validation-mags.")]
        [NumberRange(1, int.MaxValue)]
        public int? EvalEvery { get; set; }

        /// <summary>The distillation level.</summary>
        [CommandOption("--level <LEVEL>")]
        [Description("round-zero, correct-nodes, all-nodes or structure (default, MAGDi).")]
        [DefaultValue("structure")]
        public string Level { get; set; } = "structure";

        /// <summary>The graph head of the node loss.</summary>
        [CommandOption("--graph-head <HEAD>")]
        [Description("How level 4's node loss models a MAG: gcn (default, MAGDi), node-attention or token-attention (paper Table 6).")]
        [DefaultValue("gcn")]
        public string GraphHead { get; set; } = "gcn";
        /// <summary>The preset.</summary>
        [CommandOption("--preset <PRESET>")]
        [Description("paper (default: the paper's recipe) or release (the released code's semantics as a whole: pair-row batches, prompt tokens in the loss, 12-node graphs, frozen node features; see docs/training.md).")]
        [DefaultValue("paper")]
        public string Preset { get; set; } = "paper";

        /// <summary>The objective.</summary>
        [CommandOption("--objective <OBJECTIVE>")]
        [Description("magdi (default: the objectives of --level) or dss-mt (Distilling Step-by-Step on every teacher's nodes: label and rationale tasks).")]
        [DefaultValue("magdi")]
        public string Objective { get; set; } = "magdi";

        /// <summary>λ of DSS-MT.</summary>
        [CommandOption("--rationale-weight <X>")]
        [Description("With --objective dss-mt: λ in L = L_label + λ·L_rationale (default 1, Hsieh et al.).")]
        [NumberRange(0, 100)]
        public double? RationaleWeight { get; set; }

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
        [NumberRange(1, 1_000_000)]
        public int Epochs { get; set; } = 10;

        /// <summary>Step limit.</summary>
        [CommandOption("--max-steps <N>")]
        [Description("Stop after N optimizer steps (default: epochs decide).")]
        [NumberRange(1, int.MaxValue)]
        public int? MaxSteps { get; set; }

        /// <summary>Learning rate.</summary>
        [CommandOption("--lr <X>")]
        [Description("Peak learning rate of the LoRA weights (default 5e-6, the paper's).")]
        [NumberRange(0, 10, MinimumExclusive = true)]
        public double? LearningRate { get; set; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("MAGs per optimizer step, without gradient accumulation (default: 4 MAGs x 4 accumulation steps = 16, the paper's effective batch).")]
        [NumberRange(1, 65_536)]
        public int? BatchSize { get; set; }

        /// <summary>Warm-up steps.</summary>
        [CommandOption("--warmup-steps <N>")]
        [Description("Linear warm-up steps (default 100, capped by the run's length).")]
        [NumberRange(0, int.MaxValue)]
        public int? WarmupSteps { get; set; }

        /// <summary>The dtype.</summary>
        [CommandOption("--dtype <DTYPE>")]
        [Description("bf16 (default; about 6x faster on CPU) or f32. LoRA weights and optimizer state stay f32.")]
        [DefaultValue("bf16")]
        public string DType { get; set; } = "bf16";

        /// <summary>The pairing strategy.</summary>
        [CommandOption("--pairing <NAME>")]
        [Description("How correct and incorrect nodes of a MAG are paired for the margin-ranking loss: paper (default), cyclic (the released code) or all-pairs.")]
        [DefaultValue("paper")]
        public string Pairing { get; set; } = "paper";

        /// <summary>The prompt format.</summary>
        [CommandOption("--prompt-format <NAME>")]
        [Description("auto (default: from the tokenizer's chat template, else Mistral's [[INST]]), mistral, llama2-chat, chatml, qwen3 or plain. Evaluate with the same format.")]
        [DefaultValue("auto")]
        public string PromptFormat { get; set; } = "auto";

        /// <summary>The device.</summary>
        [CommandOption("--device <DEVICE>")]
        [Description("auto (default), cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        /// <summary>The seed.</summary>
        [CommandOption("--seed <S>")]
        [Description("Seed of data order, pairing, LoRA init and dropout (default 42).")]
        public int? Seed { get; set; }

        /// <summary>Checkpoint interval.</summary>
        [CommandOption("--save-every <N>")]
        [Description("Also write a checkpoint every N optimizer steps (default: only at the end and on Ctrl-C), so a kill loses at most N steps. The newest 2 are kept.")]
        public int? SaveEvery { get; set; }

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
            if (string.IsNullOrWhiteSpace(Model) || Mags.Length == 0 || string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--model, --mags and --out are required.");
            }

            if (!Directory.Exists(Model))
            {
                return ValidationResult.Error($"--model: folder '{Model}' does not exist.");
            }

            foreach (var (option, files) in new[] { ("--mags", Mags), ("--validation-mags", ValidationMags) })
            {
                if (files.FirstOrDefault(f => !File.Exists(f)) is string missing)
                {
                    return ValidationResult.Error($"{option}: file '{missing}' does not exist.");
                }

                if (files.GroupBy(f => Path.GetFullPath(f)).FirstOrDefault(g => g.Count() > 1) is { } twice)
                {
                    return ValidationResult.Error($"{option}: file '{twice.First()}' is given more than once.");
                }
            }

            if (SaveEvery is < 1)
            {
                return ValidationResult.Error($"--save-every must be at least 1 (got {SaveEvery}).");
            }

            // What train writes into --out may not be one of its inputs.
            foreach (string written in new[] { "metrics.jsonl", "loss-curve.png" })
            {
                var check = OutputPaths.CheckNotAnInput("--out", Path.Combine(Out, written), [.. Mags.Select(f => ("--mags", (string?)f)), .. ValidationMags.Select(f => ("--validation-mags", (string?)f))]);
                if (!check.Successful)
                {
                    return check;
                }
            }

            if (EvalEvery is not null && (EvalEvery < 1 || ValidationMags.Length == 0))
            {
                return ValidationResult.Error("--eval-every must be at least 1 and needs --validation-mags.");
            }

            if (ParseLevel(Level) is null)
            {
                return ValidationResult.Error($"--level must be round-zero, correct-nodes, all-nodes or structure (got '{Level}').");
            }

            if (ParsePreset(Preset) is null)
            {
                return ValidationResult.Error($"--preset must be paper or release (got '{Preset}').");
            }

            if (ParseObjective(Objective) is null)
            {
                return ValidationResult.Error($"--objective must be magdi or dss-mt (got '{Objective}').");
            }

            if (RationaleWeight is { } lambda && (ParseObjective(Objective) != DistillationObjective.StepByStep || !(lambda >= 0 && lambda <= 100)))
            {
                return ValidationResult.Error($"--rationale-weight must be from 0 to 100 and needs --objective dss-mt (got {lambda.ToString(CultureInfo.InvariantCulture)}).");
            }

            if (ParseGraphHead(GraphHead) is not { } head)
            {
                return ValidationResult.Error($"--graph-head must be gcn, node-attention or token-attention (got '{GraphHead}').");
            }

            if (head != GraphHeadKind.Gcn && ParseLevel(Level) != DistillationLevel.Structure)
            {
                return ValidationResult.Error($"--graph-head {GraphHead} needs --level structure: only level 4 has the node-classification loss that uses a graph head (got --level {Level}).");
            }

            foreach (ValidationResult choice in new[] { CliChoices.CpuDType.Check(DType), CliChoices.Pairing.Check(Pairing), CliChoices.PromptFormat.Check(PromptFormat) })
            {
                if (!choice.Successful)
                {
                    return choice;
                }
            }

            if (Epochs < 1 || MaxSteps is < 1 || BatchSize is < 1 || WarmupSteps is < 0)
            {
                return ValidationResult.Error("--epochs, --max-steps and --batch-size must be at least 1, --warmup-steps at least 0.");
            }

            if (LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0))
            {
                return ValidationResult.Error($"--lr must be a positive number (got {lr}).");
            }

            // Checked now, not after reading and tokenizing the MAGs.
            return OutputTargets.Folder("--out", Out);
        }
    }

    /// <summary>Parses a preset name of the command line.</summary>
    internal static TrainingPreset? ParsePreset(string name) => name.Trim().ToLowerInvariant() switch
    {
        "paper" => TrainingPreset.Paper,
        "release" => TrainingPreset.Release,
        _ => null,
    };

    /// <summary>Parses an objective name of the command line.</summary>
    internal static DistillationObjective? ParseObjective(string name) => name.Trim().ToLowerInvariant() switch
    {
        "magdi" => DistillationObjective.MagDi,
        "dss-mt" or "dss" or "step-by-step" => DistillationObjective.StepByStep,
        _ => null,
    };

    /// <summary>Parses a level name of the command line.</summary>
    internal static DistillationLevel? ParseLevel(string name) => name.Trim().ToLowerInvariant() switch
    {
        "round-zero" or "1" => DistillationLevel.RoundZero,
        "correct-nodes" or "2" => DistillationLevel.CorrectNodes,
        "all-nodes" or "3" => DistillationLevel.AllNodes,
        "structure" or "magdi" or "4" => DistillationLevel.Structure,
        _ => null,
    };

    /// <summary>Parses a graph-head name of the command line.</summary>
    internal static GraphHeadKind? ParseGraphHead(string name) => name.Trim().ToLowerInvariant() switch
    {
        "gcn" => GraphHeadKind.Gcn,
        "node-attention" or "node" => GraphHeadKind.NodeAttention,
        "token-attention" or "token" => GraphHeadKind.TokenAttention,
        _ => null,
    };

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var locations = new Dictionary<string, List<string>>(StringComparer.Ordinal); // MAG id -> "element N of FILE"
        var training = await ReadAllAsync("--mags", settings.Mags, settings.Task, locations, cancellationToken);
        var validation = await ReadAllAsync("--validation-mags", settings.ValidationMags, settings.Task, locations, cancellationToken);
        var trainingKeys = training.Select(g => (g.Task, g.Id)).ToHashSet();
        if (validation.FirstOrDefault(g => trainingKeys.Contains((g.Task, g.Id))) is { } leaked)
        {
            throw new ArgumentException($"--validation-mags: MAG '{leaked.Id}' of task {leaked.Task} is also a training MAG; validation MAGs must be held out.");
        }

        var defaults = new MagDiTrainingOptions();
        int warmup = settings.WarmupSteps ?? Math.Min(defaults.WarmupSteps, Math.Max(0, (settings.MaxSteps ?? int.MaxValue) / 10));
        var builder = MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(settings.Model!, settings.Device, CliChoices.CpuDType.Parse(settings.DType))
            .WithTrainingGraphs(training)
            .WithValidationGraphs(validation)
            .WithPreset(ParsePreset(settings.Preset)!.Value)
            .WithOutputDirectory(settings.Out!)
            .WithSchedule(settings.Epochs, warmup, settings.MaxSteps);
        // Only what the command line was given is set explicitly, so a --preset release contradicted by an explicit --level
        // or --objective is an error naming it.
        if (context.Arguments.Any(a => a == "--level" || a.StartsWith("--level=", StringComparison.Ordinal)) || ParseLevel(settings.Level) != DistillationLevel.Structure) builder.WithLevel(ParseLevel(settings.Level)!.Value);
        if (ParseGraphHead(settings.GraphHead) is { } head && (head != GraphHeadKind.Gcn || context.Arguments.Any(a => a == "--graph-head" || a.StartsWith("--graph-head=", StringComparison.Ordinal)))) builder.WithGraphHead(head);
        if (ParseObjective(settings.Objective) == DistillationObjective.StepByStep) builder.WithStepByStepObjective(settings.RationaleWeight ?? 1.0);
        if (settings.Teacher is not null) builder.WithSingleTeacher(settings.Teacher);
        if (settings.BatchSize is int batch) builder.WithBatchSize(batch);
        if (settings.LearningRate is double lr) builder.WithLearningRate(lr);
        if (settings.Seed is int seed) builder.WithSeed(seed);
        if (settings.Resume) builder.ResumeFromLatestCheckpoint();
        if (settings.EvalEvery is int every) builder.Configure(o => o.EvalEverySteps = every);
        if (settings.SaveEvery is int saveEvery) builder.Configure(o => o.SaveEverySteps = saveEvery);
        PairingStrategyKind pairing = CliChoices.Pairing.Parse(settings.Pairing);
        PromptFormatKind promptFormat = CliChoices.PromptFormat.Parse(settings.PromptFormat);
        // Pairing is a setting the Release preset decides: set only when given, so --preset release alone is not contradicted.
        bool pairingGiven = context.Arguments.Any(a => a == "--pairing" || a.StartsWith("--pairing=", StringComparison.Ordinal)) || pairing != PairingStrategyKind.Paper;
        builder.Configure(o =>
        {
            if (pairingGiven)
            {
                o.Pairing = pairing;
            }

            o.PromptFormat = promptFormat;
        });

        TrainingResult result;
        try
        {
            result = await TrainAsync(builder, settings.Json, cancellationToken);
        }
        catch (TrainingDataException e) when (e.GraphIds.Count > 0)
        {
            // The trainer knows the MAGs, the command knows their files: name both.
            throw new TrainingDataException($"{e.Message} {Locate(e.GraphIds, locations)}", e) { GraphIds = e.GraphIds };
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
                ["training_mags"] = training.Count,
                ["validation_mags"] = validation.Count,
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

    private async Task<TrainingResult> TrainAsync(MagDiTrainerBuilder builder, bool json, CancellationToken cancellationToken)
    {
        if (json)
        {
            using MagDiTrainer jsonTrainer = builder.Build();
            return await jsonTrainer.TrainAsync(cancellationToken);
        }

        return await output.Console.Progress()
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
                using MagDiTrainer trainer = builder.Build();
                var trained = await trainer.TrainAsync(cancellationToken);
                if (last is not null && trained.Status == TrainingStatus.Completed)
                {
                    task.Value = task.MaxValue;
                }

                task.StopTask();
                ctx.Refresh();
                return trained;
            });
    }

    /// <summary>Where the MAGs a training-data error names are: <c>MAG 'q1' is element 3 of a.jsonl</c>.</summary>
    private static string Locate(IReadOnlyList<string> ids, Dictionary<string, List<string>> locations)
    {
        var parts = ids.Take(5).Select(id => locations.TryGetValue(id, out var where)
            ? $"MAG '{id}' is {string.Join(" and ", where)}"
            : $"MAG '{id}'");
        return $"Where: {string.Join("; ", parts)}{(ids.Count > 5 ? "; ..." : string.Empty)}.";
    }

    /// <summary>
    /// Reads every file of an option in order. MAG ids must be unique across the files (a repeated id would be trained
    /// on twice, or leak between training and validation), and a file without MAGs is an error, never silently skipped.
    /// </summary>
    private static async Task<List<InteractionGraph>> ReadAllAsync(
        string option, string[] files, string? task, Dictionary<string, List<string>> locations, CancellationToken cancellationToken)
    {
        var graphs = new List<InteractionGraph>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in files)
        {
            var read = await MagFile.ReadAsync(file, new MagReadOptions { Task = task }, cancellationToken);
            if (read.Graphs.Count == 0)
            {
                throw new ArgumentException($"{option}: '{file}' holds no MAGs.");
            }

            for (int element = 0; element < read.Graphs.Count; element++)
            {
                var graph = read.Graphs[element];
                string key = graph.Task + "/" + graph.Id;
                if (!locations.TryGetValue(graph.Id, out var where))
                {
                    locations[graph.Id] = where = [];
                }

                where.Add(string.Create(CultureInfo.InvariantCulture, $"element {element} of {file}"));
                if (!seen.TryAdd(key, file))
                {
                    throw new ArgumentException($"{option}: MAG '{graph.Id}' of task {graph.Task} in '{file}' is also in '{seen[key]}'.");
                }
            }

            graphs.AddRange(read.Graphs);
        }

        return graphs;
    }

    private static string Describe(TrainingProgress p)
    {
        var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"step {p.Step}/{p.TotalSteps}") };
        foreach (string term in PlotTerms)
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
