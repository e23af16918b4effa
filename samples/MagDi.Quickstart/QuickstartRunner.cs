using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using MagDi.Tokenization;
using MagDi.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Quickstart;

/// <summary>One row of the comparison table.</summary>
/// <param name="Name">SiT, Level 1 ... or "untrained".</param>
/// <param name="Description">What the student was trained on.</param>
/// <param name="Count">Held-out questions.</param>
/// <param name="Correct">Correct answers.</param>
/// <param name="AverageGeneratedTokens">Average generated tokens per question.</param>
/// <param name="TrainingSeconds">Training wall time (0 for the untrained student).</param>
/// <param name="PerTask">Accuracy per task.</param>
/// <param name="LossHistory">loss/nll per optimizer step.</param>
public sealed record QuickstartRow(
    string Name,
    string Description,
    int Count,
    int Correct,
    double AverageGeneratedTokens,
    double TrainingSeconds,
    IReadOnlyDictionary<string, double> PerTask,
    IReadOnlyList<double> LossHistory)
{
    /// <summary>Correct / count.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>What a quickstart run measured and wrote.</summary>
public sealed record QuickstartReport(
    string OutputDirectory,
    IReadOnlyList<QuickstartRow> Rows,
    IReadOnlyList<string> Files,
    string TableMarkdown,
    TimeSpan WallTime);

/// <summary>The sizes that decide the run time; one set for the default run, one for --quick.</summary>
internal sealed record QuickstartBudget(
    int TrainArithmetic,
    int TrainComparison,
    int TestArithmetic,
    int TestComparison,
    int VocabularySize,
    int HiddenSize,
    int Layers,
    int Steps,
    int BatchSize,
    double LearningRate,
    int MaxNewTokens,
    int MaxArithmeticSteps)
{
    public static QuickstartBudget Default { get; } = new(
        TrainArithmetic: 600, TrainComparison: 300, TestArithmetic: 120, TestComparison: 80,
        VocabularySize: 320, HiddenSize: 128, Layers: 3, Steps: 500, BatchSize: 8, LearningRate: 3e-3, MaxNewTokens: 48, MaxArithmeticSteps: 2);

    public static QuickstartBudget Quick { get; } = new(
        TrainArithmetic: 300, TrainComparison: 0, TestArithmetic: 60, TestComparison: 0,
        VocabularySize: 288, HiddenSize: 96, Layers: 2, Steps: 120, BatchSize: 8, LearningRate: 3e-3, MaxNewTokens: 32, MaxArithmeticSteps: 1);
}

/// <summary>
/// The quickstart: synthetic benchmark, ReConcile discussion among simulated teachers, a byte-level BPE tokenizer,
/// a small random Llama student distilled at every MAGDi level with the same budget, zero-shot evaluation, and
/// the table, results JSON, plot and a rendered MAG in the output folder.
/// </summary>
public sealed class QuickstartRunner
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly QuickstartOptions _options;
    private readonly IAnsiConsole _console;
    private readonly QuickstartBudget _budget;

    /// <summary>Creates a runner writing to <paramref name="console"/> (default: the terminal).</summary>
    public QuickstartRunner(QuickstartOptions options, IAnsiConsole? console = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _console = console ?? AnsiConsole.Console;
        _budget = options.Quick ? QuickstartBudget.Quick : QuickstartBudget.Default;
    }

    private bool RealStudent => _options.ModelDirectory is not null;

    /// <summary>Runs everything and returns what was measured.</summary>
    public async Task<QuickstartReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        TorchRuntime.EnsureInitialized();
        // The random student is tiny: one intra-op thread has no synchronisation overhead and does not collapse when
        // other processes share the cores (measured here: 150 SiT steps took 5 s on 1 thread, 59 s on 2 busy threads).
        int? threads = _options.Threads ?? (RealStudent ? null : 1);
        if (threads is int n)
        {
            torch.set_num_threads(n);
        }
        SyntheticTasks.EnsureRegistered();
        string outDir = Path.GetFullPath(_options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        AtomicFile.DeleteLeftovers(outDir); // what a killed run left: only MagDi's own temporary names
        var files = new List<string>();

        _console.Write(new Rule("[bold]MagDi quickstart[/]").LeftJustified());
        _console.MarkupLine($"Output folder: [blue]{Markup.Escape(outDir)}[/]  seed {_options.Seed}  {(_options.Quick ? "--quick budget" : "default budget")}  {Environment.ProcessorCount} cores");

        // 1. Benchmark and MAGs.
        (List<InteractionGraph> trainGraphs, List<Question> test) = await BuildMagsAsync(outDir, files, cancellationToken);
        MagStatistics stats = MagStatistics.Compute(trainGraphs);
        PrintStatistics(stats);
        InteractionGraph showcase = trainGraphs.FirstOrDefault(g => g.InteractionRounds > 0 && g.Nodes.Any(n => !n.IsCorrect)) ?? trainGraphs[0];
        string svgPath = Path.Combine(outDir, "mag.svg");
        await AtomicFile.WriteAllTextAsync(svgPath, MagSvgRenderer.Render(showcase), cancellationToken);
        files.Add(svgPath);
        _console.MarkupLine($"Rendered MAG [blue]{Markup.Escape(showcase.Id)}[/] to mag.svg");

        string strongest = stats.Agents
            .Select(a => (a.Agent, Accuracy: a.Rounds.FirstOrDefault(r => r.Round == 0)?.Accuracy ?? a.Accuracy))
            .OrderByDescending(a => a.Accuracy).ThenBy(a => a.Agent, StringComparer.Ordinal).First().Agent;

        // 2. Student and tokenizer.
        ITextTokenizer tokenizer = RealStudent ? TokenizerLoader.Load(_options.ModelDirectory!) : TrainTokenizer(trainGraphs, outDir);
        string mode = RealStudent
            ? "LoRA on the pretrained checkpoint (rank 16, q_proj/v_proj)"
            : "full fine-tuning (the student starts from random weights, so there is nothing for a LoRA adapter to adapt; LoRA is the recipe for pretrained students, see --model)";
        ModelConfig config = RealStudent ? ModelConfig.Load(Path.Combine(_options.ModelDirectory!, "config.json")) : StudentConfig(tokenizer);
        _console.MarkupLine($"Student: [bold]{Markup.Escape(config.ModelType)}[/], {config.NumHiddenLayers} layers, d_model {config.HiddenSize}, vocab {config.VocabSize}, " +
            $"{config.ParameterCount() / 1e6:F2}M parameters, {Markup.Escape(DescribeDType())}; {Markup.Escape(mode)}.");

        // 3. Variants: untrained, SiT, Level 1..4 with the same budget and initial weights.
        var variants = new List<(string Name, string Description, DistillationLevel? Level, string? Teacher)>
        {
            ("untrained", "the initial student, no training", null, null),
            ("SiT", $"single teacher ({strongest}), round-0 correct chains", DistillationLevel.RoundZero, strongest),
            ("Level 1", "all teachers, round-0 correct chains", DistillationLevel.RoundZero, null),
            ("Level 2", "correct chains of all rounds", DistillationLevel.CorrectNodes, null),
            ("Level 3", "+ incorrect chains (margin loss)", DistillationLevel.AllNodes, null),
            ("Level 4", "+ graph structure (GCN node loss) = MAGDi", DistillationLevel.Structure, null),
        };

        var rows = new List<QuickstartRow>();
        foreach (var v in variants)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using CausalLanguageModel student = CreateStudent(tokenizer);
            TrainingResult? training = null;
            if (v.Level is { } level)
            {
                training = await TrainAsync(v.Name, student, tokenizer, trainGraphs, level, v.Teacher, outDir, cancellationToken);
            }

            QuickstartRow row = await EvaluateAsync(v.Name, v.Description, student, tokenizer, test, training, outDir, cancellationToken);
            rows.Add(row);
            _console.MarkupLine($"  {Markup.Escape(v.Name)}: accuracy [bold]{row.Accuracy.ToString("P1", CultureInfo.InvariantCulture)}[/] ({row.Correct}/{row.Count}), " +
                $"{row.AverageGeneratedTokens:F1} tokens, trained {row.TrainingSeconds:F1} s");
        }

        // 4. Table, JSON, plot.
        string table = ToMarkdown(rows, stats, strongest);
        PrintTable(rows);
        string tablePath = Path.Combine(outDir, "table.md");
        await AtomicFile.WriteAllTextAsync(tablePath, table, cancellationToken);
        files.Add(tablePath);

        string plotPath = Path.Combine(outDir, "plot.png");
        QuickstartPlot.Save(rows, plotPath);
        files.Add(plotPath);

        wall.Stop();
        string jsonPath = Path.Combine(outDir, "results.json");
        await AtomicFile.WriteAllTextAsync(jsonPath, ToJson(rows, stats, strongest, mode, wall.Elapsed), cancellationToken);
        files.Add(jsonPath);

        QuickstartRow untrained = rows[0];
        QuickstartRow best = rows.Skip(1).OrderByDescending(r => r.Accuracy).First();
        _console.MarkupLine($"Best distilled student: [bold]{Markup.Escape(best.Name)}[/] {best.Accuracy:P1} vs untrained {untrained.Accuracy:P1}. " +
            $"{Markup.Escape(OrderingVerdict(rows))}");
        _console.MarkupLine($"Wrote {string.Join(", ", files.Select(Path.GetFileName))} in {wall.Elapsed.TotalSeconds:F0} s.");
        return new QuickstartReport(outDir, rows, files, table, wall.Elapsed);
    }

    private async Task<(List<InteractionGraph> Train, List<Question> Test)> BuildMagsAsync(string outDir, List<string> files, CancellationToken ct)
    {
        if (_options.MagsFile is { } magsFile)
        {
            MagReadResult read = await MagFile.ReadAsync(magsFile, cancellationToken: ct);
            var graphs = read.Graphs.ToList();
            if (graphs.Count < 5)
            {
                throw new ArgumentException($"--mags: '{magsFile}' has only {graphs.Count} MAGs; at least 5 are needed (80% train, 20% held out).");
            }

            int testCount = Math.Max(1, graphs.Count / 5);
            _console.MarkupLine($"Read {graphs.Count} MAGs ({read.Format}) from [blue]{Markup.Escape(magsFile)}[/]; the last {testCount} are held out for evaluation.");
            return (graphs.Take(graphs.Count - testCount).ToList(), graphs.Skip(graphs.Count - testCount).Select(g => g.ToQuestion()).ToList());
        }

        var benchmark = new SyntheticBenchmarkOptions
        {
            Seed = _options.Seed,
            MinSteps = 1,
            MaxSteps = _budget.MaxArithmeticSteps,
            MaxOperand = 9,
            MaxValue = 30,
            AllowMultiplication = false,
        };
        var (arithTrain, arithTest) = SyntheticBenchmark.GenerateSplits(SyntheticFamily.Arithmetic, _budget.TrainArithmetic, _budget.TestArithmetic, benchmark);
        var train = arithTrain.Select(p => p.ToQuestion()).ToList();
        var test = arithTest.Select(p => p.ToQuestion()).ToList();
        if (_budget.TrainComparison + _budget.TestComparison > 0)
        {
            var (cmpTrain, cmpTest) = SyntheticBenchmark.GenerateSplits(SyntheticFamily.Comparison, _budget.TrainComparison, _budget.TestComparison, benchmark);
            train.AddRange(cmpTrain.Select(p => p.ToQuestion()));
            test.AddRange(cmpTest.Select(p => p.ToQuestion()));
        }

        _console.MarkupLine($"Synthetic benchmark: {train.Count} training and {test.Count} held-out questions " +
            $"({string.Join(", ", test.GroupBy(q => q.Task).Select(g => $"{g.Key}: {g.Count()}"))}).");

        // The runner appends to (and resumes) a corpus; the quickstart always starts fresh, so the discussion goes into a
        // temporary folder and its two files replace the previous run's only when it is complete.
        string magPath = Path.Combine(outDir, "mags.jsonl");
        string usagePath = Path.ChangeExtension(magPath, ".usage.jsonl");
        var runner = new DiscussionRunner(
            SimulatedTeacher.CreateTeam(_options.Seed, SimulatedTeacher.OracleFor(train)),
            new DiscussionOptions { MaxRounds = 3, MaxConcurrentQuestions = 1 });
        DiscussionRunSummary summary = null!;
        string discussion = Path.Combine(outDir, "." + Path.GetFileName(magPath) + "." + Guid.NewGuid().ToString("N") + ".magdi-tmp");
        Directory.CreateDirectory(discussion);
        try
        {
            await _console.Progress().AutoClear(false).Columns(ProgressColumns()).StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask("ReConcile discussion (3 simulated teachers)", maxValue: train.Count);
                var progress = new SyncProgress<DiscussionProgress>(p => task.Value = p.Completed + p.Skipped + p.Failed);
                summary = await runner.RunAsync(train, Path.Combine(discussion, Path.GetFileName(magPath)), progress, ct);
                task.Value = task.MaxValue;
            });
            File.Move(Path.Combine(discussion, Path.GetFileName(usagePath)), usagePath, overwrite: true);
            File.Move(Path.Combine(discussion, Path.GetFileName(magPath)), magPath, overwrite: true);
        }
        finally
        {
            Directory.Delete(discussion, recursive: true);
        }

        files.Add(magPath);
        MagReadResult mags = await MagFile.ReadAsync(magPath, cancellationToken: ct);
        _console.MarkupLine($"Wrote {summary.Written} MAGs to mags.jsonl (team answer correct on {summary.TeamCorrect}, failed {summary.FailedQuestionIds.Count}).");
        return (mags.Graphs.ToList(), test);
    }

    private void PrintStatistics(MagStatistics stats)
    {
        var types = new Table().Title("[bold]MAGs by graph type (Table 12)[/]").AddColumns("Graph type", "MAGs", "Nodes");
        foreach (var t in stats.GraphTypes)
        {
            types.AddRow(t.Name, t.Graphs.ToString(CultureInfo.InvariantCulture), t.Nodes.ToString(CultureInfo.InvariantCulture));
        }

        types.AddRow("[bold]total[/]", stats.Graphs.ToString(CultureInfo.InvariantCulture), stats.Nodes.ToString(CultureInfo.InvariantCulture));

        var rounds = new Table().Title("[bold]Nodes per round[/]").AddColumns("Round", "Nodes", "Correct", "Incorrect", "Accuracy", "Agreement");
        foreach (var r in stats.Rounds)
        {
            rounds.AddRow(r.Round.ToString(CultureInfo.InvariantCulture), r.Nodes.ToString(CultureInfo.InvariantCulture),
                r.Correct.ToString(CultureInfo.InvariantCulture), r.Incorrect.ToString(CultureInfo.InvariantCulture),
                r.Accuracy.ToString("P1", CultureInfo.InvariantCulture), r.Agreement.ToString("P1", CultureInfo.InvariantCulture));
        }

        var agents = new Table().Title("[bold]Teachers[/]").AddColumns("Agent", "Nodes", "Correct", "Accuracy", "Round-0 accuracy");
        foreach (var a in stats.Agents)
        {
            double r0 = a.Rounds.FirstOrDefault(r => r.Round == 0)?.Accuracy ?? double.NaN;
            agents.AddRow(Markup.Escape(a.Agent), a.Nodes.ToString(CultureInfo.InvariantCulture), a.Correct.ToString(CultureInfo.InvariantCulture),
                a.Accuracy.ToString("P1", CultureInfo.InvariantCulture), r0.ToString("P1", CultureInfo.InvariantCulture));
        }

        _console.Write(new Columns(types, rounds, agents));
    }

    private ITextTokenizer TrainTokenizer(IReadOnlyList<InteractionGraph> graphs, string outDir)
    {
        var template = new MagDiPromptTemplate(PromptFormat.Plain);
        IEnumerable<string> Corpus()
        {
            foreach (var g in graphs)
            {
                var task = ReasoningTasks.Get(g.Task);
                yield return template.RenderPrompt(task, g.ToQuestion());
                foreach (var n in g.Nodes)
                {
                    yield return MagDiPromptTemplate.RenderTarget(n.Reasoning, n.Answer);
                }
            }
        }

        var sw = Stopwatch.StartNew();
        ITextTokenizer tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = _budget.VocabularySize })
            .Train(Corpus(), Path.Combine(outDir, "tokenizer"));
        _console.MarkupLine($"Trained a byte-level BPE tokenizer with {tokenizer.VocabularySize} tokens in {sw.Elapsed.TotalSeconds:F1} s (tokenizer/tokenizer.json).");
        return tokenizer;
    }

    private ScalarType? DType() => _options.DType is null ? (RealStudent ? ScalarType.BFloat16 : ScalarType.Float32) : DTypes.Parse(_options.DType);

    private string DescribeDType() => (DType() ?? ScalarType.Float32) switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "f16",
        _ => "f32",
    };

    private CausalLanguageModel CreateStudent(ITextTokenizer tokenizer)
    {
        var device = TorchRuntime.ResolveDevice(_options.Device);
        if (RealStudent)
        {
            return CausalLanguageModel.FromPretrained(_options.ModelDirectory!, new ModelLoadOptions { Device = device, DType = DType() });
        }

        ModelConfig config = StudentConfig(tokenizer);
        // Same seed for every variant: each starts from identical weights.
        return CausalLanguageModel.CreateRandom(config, _options.Seed, device, DType());
    }

    private ModelConfig StudentConfig(ITextTokenizer tokenizer)
    {
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = tokenizer.VocabularySize,
            HiddenSize = _budget.HiddenSize,
            IntermediateSize = _budget.HiddenSize * 2,
            NumHiddenLayers = _budget.Layers,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 256,
            RmsNormEps = 1e-5,
            TieWordEmbeddings = true,
            BosTokenId = tokenizer.Special.BosId,
            PadTokenId = tokenizer.Special.PadId,
        };
        if (tokenizer.Special.EosId is int eos)
        {
            config.SetEosTokenId(eos);
        }

        return config;
    }

    private async Task<TrainingResult> TrainAsync(
        string name, CausalLanguageModel student, ITextTokenizer tokenizer, IReadOnlyList<InteractionGraph> graphs,
        DistillationLevel level, string? teacher, string outDir, CancellationToken ct)
    {
        var builder = MagDiTrainer.CreateBuilder()
            .UseStudent(student, tokenizer)
            .WithTrainingGraphs(graphs)
            .WithLevel(level)
            .WithSchedule(epochs: 10_000, warmupSteps: Math.Max(1, _budget.Steps / 20), maxSteps: _budget.Steps)
            .WithBatchSize(_budget.BatchSize, gradientAccumulationSteps: 1)
            .WithSeed(_options.Seed)
            .WithOutputDirectory(Path.Combine(outDir, "runs", name.Replace(' ', '-').ToLowerInvariant()))
            .Configure(o =>
            {
                o.GcnHiddenSize = Math.Min(o.GcnHiddenSize, 128);
                o.Epochs = 10_000;
            });
        builder = RealStudent
            ? builder.WithLora().WithLearningRate(2e-4, 1e-3)
            : builder.WithFullFineTuning().WithLearningRate(_budget.LearningRate);
        if (teacher is not null)
        {
            builder.WithSingleTeacher(teacher);
        }

        TrainingResult result = null!;
        await _console.Progress().AutoClear(false).Columns(ProgressColumns()).StartAsync(async ctx =>
        {
            ProgressTask task = ctx.AddTask($"Training {name,-8}", maxValue: _budget.Steps);
            builder.UseProgress(new SyncProgress<TrainingProgress>(p =>
            {
                task.Value = p.Step;
                if (p.Metrics.TryGetValue(LossReport.Keys.Total, out double loss))
                {
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"Training {name,-8} loss {loss:F3}");
                }
            }));
            result = await builder.Build().TrainAsync(ct);
            task.Value = task.MaxValue;
        });
        return result;
    }

    private async Task<QuickstartRow> EvaluateAsync(
        string name, string description, CausalLanguageModel student, ITextTokenizer tokenizer, IReadOnlyList<Question> test,
        TrainingResult? training, string outDir, CancellationToken ct)
    {
        var evaluator = new MagDiEvaluator(student, tokenizer, new EvaluationOptions { MaxNewTokens = _budget.MaxNewTokens, BatchSize = 32, Seed = _options.Seed });
        var perTask = new Dictionary<string, double>(StringComparer.Ordinal);
        int count = 0, correct = 0;
        double tokens = 0;
        await _console.Progress().AutoClear(false).Columns(ProgressColumns()).StartAsync(async ctx =>
        {
            foreach (var group in test.GroupBy(q => q.Task, StringComparer.Ordinal))
            {
                ProgressTask task = ctx.AddTask($"Evaluating {name} on {group.Key}", maxValue: group.Count());
                EvaluationResult result = await evaluator.EvaluateAsync(group, new SyncProgress<int>(done => task.Value = done), ct);
                task.Value = task.MaxValue;
                await MagDiEvaluator.WriteAsync(result, Path.Combine(outDir, "eval", name.Replace(' ', '-').ToLowerInvariant(), group.Key), ct);
                perTask[group.Key] = result.Accuracy;
                count += result.Count;
                correct += result.Correct;
                tokens += result.AverageGeneratedTokens * result.Count;
            }
        });

        var losses = training?.History
            .Select(h => h.TryGetValue(LossReport.Keys.Nll, out double v) ? v : double.NaN)
            .ToList() ?? [];
        return new QuickstartRow(name, description, count, correct, count == 0 ? 0 : tokens / count,
            training?.Duration.TotalSeconds ?? 0, perTask, losses);
    }

    private void PrintTable(List<QuickstartRow> rows)
    {
        // Compact enough for an 80-column terminal; table.md also has the "trained on" column.
        var tasks = rows[0].PerTask.Keys.ToList();
        var table = new Table().Title("[bold]Held-out zero-shot accuracy (greedy)[/]").AddColumn("Student");
        table.AddColumn(new TableColumn("Accuracy").RightAligned());
        if (tasks.Count > 1)
        {
            foreach (string t in tasks)
            {
                table.AddColumn(new TableColumn(Markup.Escape(ShortTaskName(t))).RightAligned());
            }
        }

        table.AddColumn(new TableColumn("Avg tokens").RightAligned()).AddColumn(new TableColumn("Train time").RightAligned());
        double best = rows.Skip(1).Max(r => r.Accuracy);
        foreach (var r in rows)
        {
            var cells = new List<string>
            {
                Markup.Escape(r.Name),
                r.Accuracy == best && r.Name != "untrained" ? $"[bold green]{r.Accuracy.ToString("P1", CultureInfo.InvariantCulture)}[/]" : r.Accuracy.ToString("P1", CultureInfo.InvariantCulture),
            };
            if (tasks.Count > 1)
            {
                cells.AddRange(tasks.Select(t => r.PerTask.GetValueOrDefault(t).ToString("P1", CultureInfo.InvariantCulture)));
            }

            cells.Add(r.AverageGeneratedTokens.ToString("F1", CultureInfo.InvariantCulture));
            cells.Add(r.TrainingSeconds == 0 ? "-" : r.TrainingSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s");
            table.AddRow(cells.ToArray());
        }

        _console.Write(table);
        if (tasks.Contains(SyntheticBenchmark.ComparisonTaskName))
        {
            _console.WriteLine(ChanceNote);
        }
    }

    private static string ShortTaskName(string task) =>
        task.StartsWith("synthetic-", StringComparison.Ordinal) ? task["synthetic-".Length..] : task;

    internal string ToMarkdown(IReadOnlyList<QuickstartRow> rows, MagStatistics stats, string strongest)
    {
        var tasks = rows[0].PerTask.Keys.ToList();
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| Student | Trained on | Accuracy |{string.Concat(tasks.Count > 1 ? tasks.Select(t => $" {t} |") : [])} Avg generated tokens | Training time |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"|---|---|---:|{string.Concat(tasks.Count > 1 ? tasks.Select(_ => "---:|") : [])}---:|---:|");
        foreach (var r in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Description} | {r.Accuracy:P1} ({r.Correct}/{r.Count}) |");
            if (tasks.Count > 1)
            {
                foreach (string t in tasks)
                {
                    sb.Append(CultureInfo.InvariantCulture, $" {r.PerTask.GetValueOrDefault(t):P1} |");
                }
            }

            sb.AppendLine(CultureInfo.InvariantCulture, $" {r.AverageGeneratedTokens:F1} | {(r.TrainingSeconds == 0 ? "-" : r.TrainingSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s")} |");
        }

        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Training MAGs: {stats.Graphs} ({string.Join(", ", stats.GraphTypes.Select(t => $"{t.Name}: {t.Graphs}"))}), {stats.Nodes} nodes, {stats.Correct} correct. SiT teacher: {strongest}.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Same budget for every trained student: {_budget.Steps} steps, batch {_budget.BatchSize} MAGs, seed {_options.Seed}, identical initial weights.");
        if (tasks.Contains(SyntheticBenchmark.ComparisonTaskName))
        {
            sb.AppendLine(ChanceNote);
        }

        sb.AppendLine(OrderingVerdict(rows));
        return sb.ToString();
    }

    private const string ChanceNote =
        "synthetic-comparison is a yes/no task: 50 % is chance level (the untrained student scores 0 % because it never writes a yes/no answer).";

    internal static string OrderingVerdict(IReadOnlyList<QuickstartRow> rows)
    {
        var levels = rows.Where(r => r.Name.StartsWith("Level", StringComparison.Ordinal)).ToList();
        var sit = rows.FirstOrDefault(r => r.Name == "SiT");
        if (levels.Count < 2)
        {
            return string.Empty;
        }

        bool monotone = levels.Zip(levels.Skip(1)).All(p => p.Second.Accuracy >= p.First.Accuracy);
        bool sitLowest = sit is null || levels.All(l => l.Accuracy >= sit.Accuracy);
        return monotone && sitLowest
            ? "The paper's ordering (SiT <= Level 1 <= ... <= Level 4) holds in this run."
            : "The paper's ordering (SiT <= Level 1 <= ... <= Level 4) does NOT fully hold in this run: " +
              string.Join(" ", rows.Skip(1).Select(r => $"{r.Name} {r.Accuracy.ToString("P1", CultureInfo.InvariantCulture)}")) + ".";
    }

    private string ToJson(IReadOnlyList<QuickstartRow> rows, MagStatistics stats, string strongest, string mode, TimeSpan wall) =>
        JsonSerializer.Serialize(
            new
            {
                seed = _options.Seed,
                quick = _options.Quick,
                machine = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription },
                wall_seconds = wall.TotalSeconds,
                fine_tuning = mode,
                dtype = DescribeDType(),
                budget = new { steps = _budget.Steps, batch_size = _budget.BatchSize, learning_rate = RealStudent ? 2e-4 : _budget.LearningRate, max_new_tokens = _budget.MaxNewTokens },
                sit_teacher = strongest,
                mags = new { graphs = stats.Graphs, nodes = stats.Nodes, correct = stats.Correct, graph_types = stats.GraphTypes.ToDictionary(t => t.Name, t => t.Graphs) },
                ordering = OrderingVerdict(rows),
                rows = rows.Select(r => new
                {
                    name = r.Name,
                    trained_on = r.Description,
                    count = r.Count,
                    correct = r.Correct,
                    accuracy = r.Accuracy,
                    per_task = r.PerTask,
                    avg_generated_tokens = r.AverageGeneratedTokens,
                    training_seconds = r.TrainingSeconds,
                    final_nll = r.LossHistory.Count > 0 ? r.LossHistory[^1] : (double?)null,
                }),
            },
            Indented);

    private static ProgressColumn[] ProgressColumns() =>
        [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn()];

    /// <summary>Reports synchronously on the caller's thread.</summary>
    private sealed class SyncProgress<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }
}
