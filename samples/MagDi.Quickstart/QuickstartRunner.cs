using System.Diagnostics;
using System.Globalization;
using MagDi.Graphs;
using MagDi.IO;
using MagDi.Runtime;
using MagDi.Samples;
using MagDi.Tasks.Synthetic;
using MagDi.Training;
using MagDi.Training.Experiments;
using Spectre.Console;
using TorchSharp;

namespace MagDi.Quickstart;

/// <summary>What a quickstart run measured and wrote.</summary>
/// <param name="Experiment">The experiment's report (rows, intervals, comparisons, claims).</param>
/// <param name="Data">The synthetic set-up: base student and MAG corpora.</param>
/// <param name="Files">Every file the run wrote or reused in the output folder, besides the per-run folders.</param>
/// <param name="WallTime">Wall time of the whole run.</param>
public sealed record QuickstartReport(ExperimentReport Experiment, SyntheticExperimentData Data, IReadOnlyList<string> Files, TimeSpan WallTime);

/// <summary>
/// The quickstart: the synthetic MAGDi experiment of <see cref="SyntheticExperiment"/> run by the library's multi-seed runner
/// (<see cref="MagDiExperiment"/>): a pretrained base student, simulated teachers discussing every question, LoRA students
/// for No teacher, SiT per teacher and Levels 1-4 over several seeds, and the table with confidence intervals, the paper's
/// claims checked, a plot and a rendered MAG.
/// </summary>
public sealed class QuickstartRunner
{
    private readonly QuickstartOptions _options;
    private readonly IAnsiConsole _console;
    private readonly SyntheticExperimentOptions _setup;

    /// <summary>Creates a runner writing to <paramref name="console"/> (default: the terminal).</summary>
    public QuickstartRunner(QuickstartOptions options, IAnsiConsole? console = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _console = console ?? AnsiConsole.Console;
        _setup = SyntheticBaseModels.UseStudent(
            options.Quick ? SyntheticExperimentOptions.Quick() : new SyntheticExperimentOptions(),
            options.Student == QuickstartStudent.Medium ? "medium" : "small");
        _setup.StripAgreementSentences = !options.KeepAgreementSentences;
    }

    /// <summary>Runs everything (reusing what an earlier run with the same --out finished) and returns what was measured.</summary>
    public async Task<QuickstartReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        TorchRuntime.EnsureInitialized();
        // Two intra-op threads make the default run about 1.4x faster on two idle cores; --quick (the test suite, which
        // shares its cores with other test hosts) uses one, which does not collapse when the cores are busy.
        torch.set_num_threads(_options.Threads ?? (_options.Quick ? 1 : Math.Min(2, Environment.ProcessorCount)));
        string outDir = Path.GetFullPath(_options.EffectiveOutputDirectory);
        Directory.CreateDirectory(outDir);
        AtomicFile.DeleteLeftovers(outDir); // what a killed run left: only MagDi's own temporary names
        var files = new List<string>();

        _console.Write(new Rule("[bold]MagDi quickstart[/]").LeftJustified());
        _console.MarkupLine(Markup.Escape(
            $"Output folder: {outDir}  {(_options.Quick ? "--quick budget" : "default budget")}, {_options.SeedCount} seed(s), {Environment.ProcessorCount} cores"));

        // 1. Base student and MAGs (cached under the output folder).
        SyntheticExperimentData data = await PrepareAsync(outDir, cancellationToken);
        files.Add(data.TrainingMagsPath);
        files.Add(data.TestMagsPath);
        ExperimentConsole.WriteCorpus(_console, data.TrainingGraphs);
        InteractionGraph showcase = data.TrainingGraphs.FirstOrDefault(g => g.InteractionRounds > 0 && g.Nodes.Any(n => !n.IsCorrect)) ?? data.TrainingGraphs[0];
        string svgPath = Path.Combine(outDir, "mag.svg");
        await AtomicFile.WriteAllTextAsync(svgPath, MagSvgRenderer.Render(showcase), cancellationToken);
        files.Add(svgPath);
        _console.MarkupLine(Markup.Escape($"Rendered MAG {showcase.Id} to mag.svg."));

        // 2. The experiment: every row from the same base, the same budget, every seed.
        var builder = SyntheticExperiment.CreateBuilder(data, _setup)
            .WithSeedCount(_options.SeedCount, _options.FirstSeed)
            .WithOutputDirectory(Path.Combine(outDir, "experiment"));
        if (_options.SelfConsistency)
        {
            // Table 5: SC@1 and SC@10 rows with the paper's sampling; the default rows' runs in this folder are reused.
            builder.AddSelfConsistencyRows(1, 10);
        }

        string reasoning = _setup.StripAgreementSentences
            ? "reasoning cleaned as the release cleans it (\"I agree\"/\"I disagree\" sentences removed)"
            : "reasoning as the teachers wrote it (--keep-agreement-sentences)";
        _console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Every student: LoRA r16 on q_proj/v_proj of the base, {_setup.Steps} steps of {_setup.BatchSize} MAGs, lr {_setup.LearningRate:G3}, greedy answers up to {_setup.MaxNewTokens} tokens; {reasoning}.")));
        if (_options.SelfConsistency)
        {
            _console.MarkupLine("Self-consistency rows (--self-consistency): the paper's sampling (temperature 0.7, top-p 0.9, top-k 50), one answer (SC@1) and the majority of ten (SC@10).");
        }

        ExperimentReport report = await ExperimentConsole.RunAsync(_console, builder, cancellationToken);
        files.AddRange(report.Files);

        // 3. Table, claims, plot.
        ExperimentConsole.WriteTable(_console, report);
        ExperimentConsole.WriteClaims(_console, report);
        string plotPath = Path.Combine(outDir, "plot.png");
        ExperimentPlot.Save(report, plotPath);
        files.Add(plotPath);
        wall.Stop();
        _console.MarkupLine(Markup.Escape($"Wrote {string.Join(", ", files.Select(f => Path.GetRelativePath(outDir, f)))} in {wall.Elapsed.TotalSeconds:F0} s."));
        return new QuickstartReport(report, data, files, wall.Elapsed);
    }

    private async Task<SyntheticExperimentData> PrepareAsync(string outDir, CancellationToken ct)
    {
        SyntheticExperimentData data = null!;
        bool shipped = SyntheticBaseModel.IsBuilt(SyntheticBaseModels.Shipped, _setup.BaseModel);
        bool baseBuilt = shipped || SyntheticBaseModel.IsBuilt(Path.Combine(outDir, "base"), _setup.BaseModel);
        await _console.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                ProgressTask Task(string stage, string description)
                {
                    if (!tasks.TryGetValue(stage, out var task))
                    {
                        task = tasks[stage] = ctx.AddTask(description, maxValue: 1);
                    }

                    return task;
                }

                var progress = new InlineProgress<SyntheticSetupProgress>(p =>
                {
                    ProgressTask task = p.Stage switch
                    {
                        "pretraining" => Task(p.Stage, "Pretraining the base student"),
                        "discussing-train" => Task(p.Stage, "Teachers discuss training questions"),
                        _ => Task(p.Stage, "Teachers discuss test questions"),
                    };
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    if (p.Loss is double loss)
                    {
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"Pretraining the base student, loss {loss:F3}");
                    }
                });
                data = await SyntheticExperiment.PrepareAsync(outDir, _setup, progress, cancellationToken: ct);
                foreach (var task in tasks.Values)
                {
                    task.Value = task.MaxValue;
                }
            });

        var b = _setup.BaseModel;
        _console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Base student ({(shipped ? "shipped with the repository" : baseBuilt ? "reused" : "built")}): llama, {b.Layers} layers, d_model {b.HiddenSize}, pretrained for {b.Training.Steps} steps on " +
            $"{b.Problems} textbook solutions of {b.Corpus.MinSteps}-{b.Corpus.MaxSteps}-step problems (values up to {b.Corpus.MaxValue}, {100 * b.MistakeRate:F0} % with a mistake); " +
            $"{data.BaseModelDirectory}.")));
        var q = _setup;
        _console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Benchmark: {q.TrainingQuestions} training and {q.TestQuestions} test questions of {q.Benchmark.MinSteps}-{q.Benchmark.MaxSteps} steps (values up to {q.Benchmark.MaxValue}); " +
            $"three simulated teachers ({string.Join(", ", MagDi.Graphs.Discussion.Simulation.SimulatedTeacherProfile.Defaults.Select(p => $"{p.Name}: {p.Style}"))}) discussed each.")));
        return data;
    }

    /// <summary>Reports synchronously on the caller's thread.</summary>
    private sealed class InlineProgress<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }
}
