using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.Heads;
using MagDi.Graphs.IO;
using MagDi.Samples;
using MagDi.Tasks;
using MagDi.Training;
using MagDi.Training.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace MagDi.Cli.Commands;

/// <summary>
/// <c>magdi experiment</c>: the multi-seed MAGDi experiment (<see cref="MagDiExperiment"/>): No teacher, SiT per teacher and
/// Levels 1-4 from one base student, N seeds, one budget, one test set; table.md, results.json and plot.png with 95 %
/// intervals and paired comparisons. On real MAG files and a real checkpoint, or on the built-in synthetic set-up.
/// </summary>
public sealed class ExperimentCommand(CliOutput output) : AsyncCommand<ExperimentCommand.Settings>
{
    private static readonly string[] RowKinds = ["no-teacher", "sit", "level1", "level2", "level3", "level4", "levels", "node-attention", "token-attention", "graph-heads"];

    /// <summary>Options of <c>experiment</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The base student.</summary>
        [CommandOption("--model <DIR>")]
        [Description("The base student every row starts from: a Hugging Face checkpoint folder (config.json, safetensors weights, tokenizer files).")]
        public string? Model { get; set; }

        /// <summary>Training MAG files.</summary>
        [CommandOption("--mags <FILE>")]
        [Description("Training MAGs: MagDi JSON Lines or the released JSON array format. Repeatable.")]
        public string[] Mags { get; set; } = [];

        /// <summary>The task of released files and of the test file.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task: of --test, and of released MAG files whose name does not say it.")]
        public string? Task { get; set; }

        /// <summary>Benchmark test file.</summary>
        [CommandOption("--test <FILE>")]
        [Description("Held-out test questions: a benchmark file of --task (GSM8K JSON Lines, StrategyQA JSON, ...; see docs/tasks.md).")]
        public string? Test { get; set; }

        /// <summary>Held-out MAGs as the test set.</summary>
        [CommandOption("--test-mags <FILE>")]
        [Description("Held-out MAGs instead of --test: their questions are the test set and the teachers' own discussion gives the efficiency reference.")]
        public string? TestMags { get; set; }

        /// <summary>The built-in synthetic set-up.</summary>
        [CommandOption("--synthetic")]
        [Description("Run the built-in offline set-up of the quickstart (pretrained base student, simulated teachers) instead of --model/--mags/--test.")]
        public bool Synthetic { get; set; }

        /// <summary>The small synthetic budget.</summary>
        [CommandOption("--quick")]
        [Description("With --synthetic: the small budget (fewer questions and steps).")]
        public bool Quick { get; set; }

        /// <summary>The synthetic base student's size.</summary>
        [CommandOption("--student <SIZE>")]
        [Description("With --synthetic: small (default, 0.88M parameters) or medium (2.7M parameters) base student; both ship with the samples.")]
        public string? Student { get; set; }

        /// <summary>The output folder.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Output folder: runs/<row>/seed-<s>/ (adapter, metrics, predictions), table.md, results.json, plot.png. Running again with the same folder reuses finished runs.")]
        public string? Out { get; set; }

        /// <summary>Seed count.</summary>
        [CommandOption("--seeds <N>")]
        [Description("Training seeds per row (default 3).")]
        [DefaultValue(3)]
        [NumberRange(1, 1000)]
        public int Seeds { get; set; } = 3;

        /// <summary>First seed.</summary>
        [CommandOption("--first-seed <S>")]
        [Description("The first seed; the others follow it (default 1).")]
        [DefaultValue(1)]
        [NumberRange(0, 1_000_000_000)]
        public int FirstSeed { get; set; } = 1;

        /// <summary>The rows.</summary>
        [CommandOption("--rows <LIST>")]
        [Description("Comma-separated rows: no-teacher, sit, level1, level2, level3, level4, levels (= all four), node-attention, token-attention, graph-heads (= both: MAGDi with attention instead of the GCN, paper Table 6). Default: no-teacher,sit,levels.")]
        [DefaultValue("no-teacher,sit,levels")]
        public string Rows { get; set; } = "no-teacher,sit,levels";

        /// <summary>The paper's analyses as extra rows.</summary>
        [CommandOption("--analyses <LIST>")]
        [Description("Extra rows of the paper's analyses, comma-separated: dss-mt (Table 1's DSS-MT baseline), self-consistency (Table 5: no teacher, each SiT and Level 4 at SC@1 and SC@10 with the paper's sampling), training-size (Figure 6: Level 4 on a quarter, half and all of the MAGs), edge-patterns (Table 11: Level 4 with undirected, fully connected and own-chain edges), all. Default: none.")]
        public string? Analyses { get; set; }

        /// <summary>SiT teachers.</summary>
        [CommandOption("--teacher <AGENT>")]
        [Description("A teacher for the SiT rows (repeatable; default: every agent of the training MAGs).")]
        public string[] Teachers { get; set; } = [];

        /// <summary>Epochs.</summary>
        [CommandOption("--epochs <N>")]
        [Description("Epochs over the training MAGs (default 10, the paper's).")]
        [NumberRange(1, 100_000)]
        public int? Epochs { get; set; }

        /// <summary>Step limit.</summary>
        [CommandOption("--max-steps <N>")]
        [Description("Stop every run after N optimizer steps (the same budget for every row).")]
        [NumberRange(1, 100_000_000)]
        public int? MaxSteps { get; set; }

        /// <summary>Learning rate.</summary>
        [CommandOption("--lr <X>")]
        [Description("Peak learning rate (default 5e-6, the paper's for a 7B student; small students need more).")]
        [NumberRange(0, 10, MinimumExclusive = true)]
        public double? LearningRate { get; set; }

        /// <summary>Batch size.</summary>
        [CommandOption("--batch-size <N>")]
        [Description("MAGs per micro-batch (default 4).")]
        [NumberRange(1, 100_000)]
        public int? BatchSize { get; set; }

        /// <summary>Gradient accumulation.</summary>
        [CommandOption("--grad-accum <N>")]
        [Description("Micro-batches per optimizer step (default 4: 16 MAGs per step, the paper's).")]
        [NumberRange(1, 100_000)]
        public int? GradientAccumulation { get; set; }

        /// <summary>Warm-up.</summary>
        [CommandOption("--warmup-steps <N>")]
        [Description("Linear warm-up steps (default 100, capped at a tenth of --max-steps).")]
        [NumberRange(0, 100_000_000)]
        public int? WarmupSteps { get; set; }

        /// <summary>Full fine-tuning.</summary>
        [CommandOption("--full-finetune")]
        [Description("Train every weight instead of LoRA adapters (LoRA r16 on q_proj/v_proj is the default, the paper's).")]
        public bool FullFineTune { get; set; }

        /// <summary>LoRA rank.</summary>
        [CommandOption("--lora-rank <R>")]
        [Description("LoRA rank (default 16; alpha stays 2r).")]
        [NumberRange(1, 4096)]
        public int? LoraRank { get; set; }

        /// <summary>Generation length.</summary>
        [CommandOption("--max-new-tokens <N>")]
        [Description("Longest generated answer (default 300, the paper's; 160 with --synthetic, the quickstart's).")]
        [NumberRange(1, 1_000_000)]
        public int? MaxNewTokens { get; set; }

        /// <summary>Evaluation batch.</summary>
        [CommandOption("--eval-batch-size <N>")]
        [Description("Questions generated together (default 8; 64 with --synthetic).")]
        [NumberRange(1, 100_000)]
        public int? EvalBatchSize { get; set; }

        /// <summary>Decoding.</summary>
        [CommandOption("--decoding <MODE>")]
        [Description("greedy (default) or paper (temperature 0.7, top-p 0.9, top-k 50, seeded by the run's seed).")]
        [DefaultValue("greedy")]
        public string Decoding { get; set; } = "greedy";

        /// <summary>The device.</summary>
        [CommandOption("--device <DEVICE>")]
        [Description("auto (default), cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        /// <summary>The dtype.</summary>
        [CommandOption("--dtype <DTYPE>")]
        [Description("f32, bf16 or f16 (CUDA). Default bf16 for --model, f32 for --synthetic.")]
        public string? DType { get; set; }

        /// <summary>CPU threads.</summary>
        [CommandOption("--threads <N>")]
        [Description("Intra-op CPU threads (default: TorchSharp's; 1 with --synthetic).")]
        [NumberRange(1, 1024)]
        public int? Threads { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("No progress bars; print results.json to stdout.")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--out is required.");
            }

            if (Student is not null && !Synthetic)
            {
                return ValidationResult.Error("--student applies to --synthetic runs (with --model, the model is the student).");
            }

            if (!SyntheticBaseModels.IsKnown(Student))
            {
                return ValidationResult.Error(SyntheticBaseModels.UnknownStudent(Student));
            }

            if (Synthetic)
            {
                if (Model is not null || Mags.Length > 0 || Test is not null || TestMags is not null)
                {
                    return ValidationResult.Error("--synthetic builds its own base student, MAGs and test set: do not combine it with --model, --mags, --test or --test-mags.");
                }

                if (Rows != "no-teacher,sit,levels" || Teachers.Length > 0)
                {
                    return ValidationResult.Error("--synthetic runs every row of the paper; --rows and --teacher apply to --model/--mags runs.");
                }
            }
            else
            {
                if (Quick)
                {
                    return ValidationResult.Error("--quick applies to --synthetic only.");
                }

                if (string.IsNullOrWhiteSpace(Model) || Mags.Length == 0)
                {
                    return ValidationResult.Error("--model and --mags are required (or --synthetic).");
                }

                if (!Directory.Exists(Model))
                {
                    return ValidationResult.Error($"--model: folder '{Model}' does not exist.");
                }

                if (Mags.FirstOrDefault(f => !File.Exists(f)) is string missing)
                {
                    return ValidationResult.Error($"--mags: file '{missing}' does not exist.");
                }

                if ((Test is null) == (TestMags is null))
                {
                    return ValidationResult.Error("Give the test set with exactly one of --test (with --task) or --test-mags.");
                }

                if (Test is not null && (string.IsNullOrWhiteSpace(Task) || !File.Exists(Test)))
                {
                    return ValidationResult.Error(Task is null ? "--test needs --task." : $"--test: file '{Test}' does not exist.");
                }

                if (TestMags is not null && !File.Exists(TestMags))
                {
                    return ValidationResult.Error($"--test-mags: file '{TestMags}' does not exist.");
                }
            }

            if (Seeds is < 1 or > 1000)
            {
                return ValidationResult.Error($"--seeds must be from 1 to 1000 (got {Seeds}).");
            }

            if (FirstSeed is < 0 or > 1_000_000_000)
            {
                return ValidationResult.Error($"--first-seed must be from 0 to 1000000000 (got {FirstSeed}).");
            }

            if (Analyses is not null && ParseAnalyses(Analyses) is null)
            {
                return ValidationResult.Error($"--analyses takes a comma-separated list of {string.Join(", ", AnalysisKinds)} (got '{Analyses}').");
            }

            if (ParseRows(Rows) is null)
            {
                return ValidationResult.Error($"--rows takes a comma-separated list of {string.Join(", ", RowKinds)} (got '{Rows}').");
            }

            foreach (var (name, value, min, max) in new (string, int?, int, int)[]
            {
                ("--epochs", Epochs, 1, 100_000), ("--max-steps", MaxSteps, 1, 100_000_000), ("--batch-size", BatchSize, 1, 100_000),
                ("--grad-accum", GradientAccumulation, 1, 100_000), ("--warmup-steps", WarmupSteps, 0, 100_000_000), ("--lora-rank", LoraRank, 1, 4096),
                ("--max-new-tokens", MaxNewTokens, 1, 1_000_000), ("--eval-batch-size", EvalBatchSize, 1, 100_000), ("--threads", Threads, 1, 1024),
            })
            {
                if (value is int v && (v < min || v > max))
                {
                    return ValidationResult.Error($"{name} must be from {min} to {max} (got {v}).");
                }
            }

            if (LearningRate is double lr && !(lr > 0 && lr < 10))
            {
                return ValidationResult.Error($"--lr must be in (0, 10) (got {lr.ToString(CultureInfo.InvariantCulture)}).");
            }

            if (Decoding.Trim().ToLowerInvariant() is not ("greedy" or "paper"))
            {
                return ValidationResult.Error($"--decoding must be greedy or paper (got '{Decoding}').");
            }

            return DType is null ? ValidationResult.Success() : CliChoices.DType.Check(DType);
        }
    }

    private static readonly string[] AnalysisKinds = ["dss-mt", "self-consistency", "training-size", "edge-patterns", "all"];

    /// <summary>The analyses of <c>--analyses</c>, or null when one is unknown.</summary>
    internal static HashSet<string>? ParseAnalyses(string analyses)
    {
        var kinds = analyses.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r => r.ToLowerInvariant()).ToHashSet();
        if (kinds.Count == 0 || kinds.Any(k => !AnalysisKinds.Contains(k)))
        {
            return null;
        }

        return kinds.Remove("all") ? [.. AnalysisKinds.SkipLast(1)] : kinds;
    }

    /// <summary>Adds the rows of <c>--analyses</c> after the experiment's own rows (none without the option).</summary>
    private static void AddAnalyses(MagDiExperimentBuilder builder, Settings settings)
    {
        HashSet<string> analyses = settings.Analyses is null ? [] : ParseAnalyses(settings.Analyses)!;
        if (analyses.Contains("dss-mt")) builder.AddStepByStepRow();
        if (analyses.Contains("self-consistency")) builder.AddSelfConsistencyRows(1, 10);
        if (analyses.Contains("training-size")) builder.AddTrainingSizeRows();
        if (analyses.Contains("edge-patterns")) builder.AddInteractionPatternRows();
    }

    /// <summary>The row kinds of <c>--rows</c>, or null when one is unknown.</summary>
    internal static HashSet<string>? ParseRows(string rows)
    {
        var kinds = rows.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r => r.ToLowerInvariant()).ToHashSet();
        if (kinds.Count == 0 || kinds.Any(k => !RowKinds.Contains(k)))
        {
            return null;
        }

        if (kinds.Remove("levels"))
        {
            kinds.UnionWith(["level1", "level2", "level3", "level4"]);
        }

        if (kinds.Remove("graph-heads"))
        {
            kinds.UnionWith(["node-attention", "token-attention"]);
        }

        return kinds;
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        MagDi.Runtime.TorchRuntime.EnsureInitialized();
        int? threads = settings.Threads ?? (settings.Synthetic ? 1 : null);
        if (threads is int n)
        {
            torch.set_num_threads(n);
        }

        string outDir = Path.GetFullPath(settings.Out!);
        Directory.CreateDirectory(outDir);
        MagDiExperimentBuilder builder = settings.Synthetic
            ? await SyntheticAsync(settings, outDir, cancellationToken)
            : await RealAsync(settings, cancellationToken);
        AddAnalyses(builder, settings);
        builder.WithSeedCount(settings.Seeds, settings.FirstSeed).WithOutputDirectory(Path.Combine(outDir, settings.Synthetic ? "experiment" : "."));

        ExperimentReport report;
        if (settings.Json)
        {
            report = await builder.Build().RunAsync(cancellationToken);
        }
        else
        {
            report = await ExperimentConsole.RunAsync(output.Console, builder, cancellationToken);
        }

        string plot = Path.Combine(report.OutputDirectory, "plot.png");
        ExperimentPlot.Save(report, plot);
        if (settings.Json)
        {
            await output.Out.WriteLineAsync(await File.ReadAllTextAsync(Path.Combine(report.OutputDirectory, "results.json"), cancellationToken));
        }
        else
        {
            ExperimentConsole.WriteTable(output.Console, report);
            ExperimentConsole.WriteClaims(output.Console, report);
            await output.Out.WriteLineAsync($"Wrote {string.Join(", ", report.Files.Append(plot))}.");
        }

        return ExitCodes.Success;
    }

    private async Task<MagDiExperimentBuilder> SyntheticAsync(Settings settings, string outDir, CancellationToken ct)
    {
        SyntheticExperimentOptions options = SyntheticBaseModels.UseStudent(
            settings.Quick ? SyntheticExperimentOptions.Quick() : new SyntheticExperimentOptions(), settings.Student ?? "small");

        if (!settings.Json)
        {
            await output.Out.WriteLineAsync("Preparing the synthetic set-up (base student, simulated discussions)...");
        }

        SyntheticExperimentData data = await SyntheticExperiment.PrepareAsync(outDir, options, cancellationToken: ct);
        var builder = SyntheticExperiment.CreateBuilder(data, options);
        ApplyBudget(builder, settings, steps: null);
        return builder;
    }

    private static async Task<MagDiExperimentBuilder> RealAsync(Settings settings, CancellationToken ct)
    {
        var training = new List<InteractionGraph>();
        foreach (string file in settings.Mags)
        {
            MagReadResult read = await MagFile.ReadAsync(file, new MagReadOptions { Task = settings.Task }, ct);
            if (read.Graphs.Count == 0)
            {
                throw new ArgumentException($"--mags: '{file}' holds no MAGs.");
            }

            training.AddRange(read.Graphs);
        }

        List<Question> test;
        List<InteractionGraph> teachers = [];
        if (settings.TestMags is { } testMags)
        {
            MagReadResult read = await MagFile.ReadAsync(testMags, new MagReadOptions { Task = settings.Task }, ct);
            teachers = [.. read.Graphs];
            test = teachers.Select(g => g.ToQuestion()).ToList();
        }
        else
        {
            BenchmarkData data = await BenchmarkReader.ReadAsync(settings.Test!, settings.Task!, null, ct);
            test = [.. data.Questions];
        }

        var trainIds = training.Select(g => (g.Task, g.Id)).ToHashSet();
        if (test.FirstOrDefault(q => trainIds.Contains((q.Task, q.Id))) is { } leaked)
        {
            throw new ArgumentException($"Test question '{leaked.Id}' ({leaked.Task}) is also a training MAG; the test set must be held out.");
        }

        var builder = MagDiExperiment.CreateBuilder()
            .UseBaseModel(settings.Model!, settings.Device, CliChoices.DType.Parse(settings.DType ?? "bf16"))
            .WithTrainingGraphs(training)
            .WithTestQuestions(test)
            .WithTeacherDiscussions(teachers);
        HashSet<string> rows = ParseRows(settings.Rows)!;
        if (rows.Contains("no-teacher")) builder.AddNoTeacherRow();
        if (rows.Contains("sit")) builder.AddSingleTeacherRows(settings.Teachers);
        AddLevels(builder, rows);
        if (rows.Contains("node-attention")) builder.AddGraphHeadRow(GraphHeadKind.NodeAttention);
        if (rows.Contains("token-attention")) builder.AddGraphHeadRow(GraphHeadKind.TokenAttention);
        builder.WithEvaluation(new EvaluationOptions
        {
            MaxNewTokens = settings.MaxNewTokens ?? 300,
            BatchSize = settings.EvalBatchSize ?? 8,
            Decoding = settings.Decoding.Trim().Equals("paper", StringComparison.OrdinalIgnoreCase) ? DecodingStrategy.Paper : DecodingStrategy.Greedy,
        });
        ApplyBudget(builder, settings, settings.MaxSteps);
        return builder;
    }

    private static void AddLevels(MagDiExperimentBuilder builder, HashSet<string> rows)
    {
        var levels = new (string Key, DistillationLevel Level)[]
        {
            ("level1", DistillationLevel.RoundZero), ("level2", DistillationLevel.CorrectNodes),
            ("level3", DistillationLevel.AllNodes), ("level4", DistillationLevel.Structure),
        };
        foreach (var (_, level) in levels.Where(l => rows.Contains(l.Key)))
        {
            builder.AddLevelRow(level);
        }
    }

    /// <summary>The budget options of the command line, applied to every trained row after the set-up's own.</summary>
    private static void ApplyBudget(MagDiExperimentBuilder builder, Settings s, int? steps)
    {
        builder.ConfigureTrainer(t =>
        {
            if (s.FullFineTune) t.WithFullFineTuning();
            else if (s.LoraRank is int r) t.WithLora(rank: r, alpha: 2 * r);
            t.Configure(o =>
            {
                if (s.Epochs is int epochs) o.Epochs = epochs;
                if (s.MaxSteps is int max) o.MaxSteps = max;
                if (s.LearningRate is double lr) o.LearningRate = lr;
                if (s.BatchSize is int batch) o.BatchSize = batch;
                if (s.GradientAccumulation is int accumulation) o.GradientAccumulationSteps = accumulation;
                if (s.WarmupSteps is int warmup) o.WarmupSteps = warmup;
                else if (steps is int limit) o.WarmupSteps = Math.Min(o.WarmupSteps, Math.Max(0, limit / 10));
            });
        });
        if (SyntheticEvaluation(s) is EvaluationOptions evaluation)
        {
            builder.WithEvaluation(evaluation);
        }
    }

    /// <summary>
    /// The evaluation a --synthetic run uses when an evaluation option is given; null keeps the synthetic set-up's own
    /// (greedy, <see cref="SyntheticExperimentOptions.MaxNewTokens"/> tokens, 64 questions at a time). An option left out
    /// keeps the set-up's value, so <c>--decoding paper</c> alone does not shorten the answers.
    /// </summary>
    internal static EvaluationOptions? SyntheticEvaluation(Settings s)
    {
        if (!s.Synthetic || (s.MaxNewTokens is null && s.EvalBatchSize is null && s.Decoding.Trim().Equals("greedy", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        return new EvaluationOptions
        {
            MaxNewTokens = s.MaxNewTokens ?? new SyntheticExperimentOptions().MaxNewTokens,
            BatchSize = s.EvalBatchSize ?? 64,
            Decoding = s.Decoding.Trim().Equals("paper", StringComparison.OrdinalIgnoreCase) ? DecodingStrategy.Paper : DecodingStrategy.Greedy,
        };
    }
}
