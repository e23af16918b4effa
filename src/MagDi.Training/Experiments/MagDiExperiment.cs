using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Heads;
using MagDi.IO;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MagDi.Training.Experiments;

/// <summary>Everything <see cref="MagDiExperimentBuilder.Build"/> validated.</summary>
internal sealed record ExperimentSetup(
    string OutputDirectory,
    string BaseDirectory,
    string Device,
    ModelDType? DType,
    ModelConfig BaseConfig,
    ITextTokenizer Tokenizer,
    IReadOnlyList<InteractionGraph> Training,
    IReadOnlyList<Question> Test,
    IReadOnlyList<InteractionGraph> TeacherDiscussions,
    IReadOnlyList<int> Seeds,
    IReadOnlyList<ExperimentRowDefinition> Rows,
    IReadOnlyList<Action<MagDiTrainerBuilder>> SharedTrainer,
    IReadOnlyDictionary<string, MagDiTrainingOptions> RowOptions,
    EvaluationOptions Evaluation,
    ILogger? Logger,
    IProgress<ExperimentProgress>? Progress);

/// <summary>
/// A multi-seed MAGDi experiment: every row (No teacher, SiT per teacher, Levels 1-4, rows of your own) starts from the same
/// base student, trains with the same budget once per seed, and is evaluated zero-shot on the same test questions; the
/// report gives each row's mean accuracy with a 95 % interval, its per-seed values, paired comparisons with significance
/// tests, and checks the paper's claims.
/// <code>
/// ExperimentReport report = await MagDiExperiment.CreateBuilder()
///     .UseBaseModel("models/base", device: "cuda", dtype: ModelDType.BF16)
///     .WithTrainingGraphs(trainMags)
///     .WithTestQuestions(testQuestions)
///     .WithSeedCount(5)
///     .AddNoTeacherRow().AddSingleTeacherRows().AddLevelRows()
///     .ConfigureTrainer(t =&gt; t.WithLora().WithSchedule(epochs: 10, warmupSteps: 100))
///     .WithOutputDirectory("out/experiment")
///     .Build()
///     .RunAsync(cancellationToken);
/// </code>
/// </summary>
/// <remarks>
/// Runs go seed by seed, row by row. Each finished (row, seed) run writes <c>runs/{row}/seed-{seed}/result.json</c>; a restarted
/// experiment reuses every run whose settings (base model, data, options, seed) are unchanged and refuses a folder that holds
/// runs of different settings. The base student is loaded afresh for every run and disposed after it. With greedy decoding the
/// No teacher row does not depend on the seed and is evaluated once.
/// </remarks>
public sealed partial class MagDiExperiment
{
    /// <summary>The file a finished (row, seed) run leaves in its folder (<see cref="RunFolderName"/>).</summary>
    internal const string ResultFile = "result.json";

    /// <summary>The folder name of a row's run that serves every seed (the base student decoded greedily).</summary>
    internal const string AllSeedsRunFolder = "all-seeds";

    /// <summary>The prefix of a row's per-seed run folders (<c>seed-3</c>).</summary>
    internal const string SeedRunFolderPrefix = "seed-";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly ExperimentSetup _setup;
    private readonly ILogger _logger;
    private readonly HashSet<string> _writtenThisRun = new(StringComparer.Ordinal);

    internal MagDiExperiment(ExperimentSetup setup)
    {
        _setup = setup;
        _logger = setup.Logger ?? NullLogger.Instance;
    }

    /// <summary>Starts a fluent builder.</summary>
    public static MagDiExperimentBuilder CreateBuilder() => new();

    /// <summary>The rows, in order.</summary>
    public IReadOnlyList<string> RowNames => _setup.Rows.Select(r => r.Name).ToList();

    /// <summary>The seeds, in order.</summary>
    public IReadOnlyList<int> Seeds => _setup.Seeds;

    /// <summary>Each trained row's resolved training options (before the seed and output folder of a run).</summary>
    internal IReadOnlyDictionary<string, MagDiTrainingOptions> RowOptions => _setup.RowOptions;

    /// <summary>The folder that receives the runs and the report.</summary>
    public string OutputDirectory => _setup.OutputDirectory;

    /// <summary>Runs (or reuses) every (row, seed) run, then writes <c>table.md</c> and <c>results.json</c>.</summary>
    /// <exception cref="InvalidDataException">The output folder holds runs of an experiment with other settings, or a damaged result file.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; finished runs stay on disk and are reused next time.</exception>
    public async Task<ExperimentReport> RunAsync(CancellationToken cancellationToken = default)
    {
        TorchRuntime.EnsureInitialized();
        var wall = Stopwatch.StartNew();
        Directory.CreateDirectory(_setup.OutputDirectory);
        AtomicFile.DeleteLeftovers(_setup.OutputDirectory);
        string data = DataFingerprint();
        var units = _setup.Seeds.SelectMany(seed => _setup.Rows.Select(row => (Row: row, Seed: seed))).ToList();
        var results = new Dictionary<(string Row, int Seed), UnitResult>();
        for (int i = 0; i < units.Count; i++)
        {
            var (row, seed) = units[i];
            results[(row.Name, seed)] = await RunUnitAsync(row, seed, i + 1, units.Count, data, cancellationToken).ConfigureAwait(false);
        }

        ExperimentReport report = Summarize(results, wall);
        var files = new List<string>();
        string table = Path.Combine(_setup.OutputDirectory, "table.md");
        await AtomicFile.WriteAllTextAsync(table, report.TableMarkdown, cancellationToken).ConfigureAwait(false);
        files.Add(table);
        string json = Path.Combine(_setup.OutputDirectory, "results.json");
        await AtomicFile.WriteAllTextAsync(json, ExperimentReportWriter.Json(report, _setup), cancellationToken).ConfigureAwait(false);
        files.Add(json);
        wall.Stop();
        return report.With(files: files, duration: wall.Elapsed);
    }

    private async Task<UnitResult> RunUnitAsync(ExperimentRowDefinition row, int seed, int index, int count, string data, CancellationToken ct)
    {
        // Greedy decoding makes the base student's answers independent of the seed: evaluate it once.
        EvaluationOptions rowEvaluation = row.Evaluation?.Invoke(_setup.Evaluation) ?? _setup.Evaluation;
        bool shared = !row.Trains && rowEvaluation.Decoding == DecodingStrategy.Greedy;
        string directory = Path.Combine(_setup.OutputDirectory, "runs", Slug(row.Name), RunFolderName(shared ? null : seed));
        string fingerprint = UnitFingerprint(row, shared ? null : seed, data);
        string resultPath = Path.Combine(directory, ResultFile);
        if (File.Exists(resultPath))
        {
            UnitResult existing = ReadResult(resultPath);
            if (existing.Fingerprint == fingerprint)
            {
                // A seed-independent run evaluated earlier in this same run is shared, not reused from an earlier run.
                bool reused = !_writtenThisRun.Contains(resultPath);
                if (reused)
                {
                    LogReused(row.Name, seed, resultPath);
                }

                Report(row, seed, index, count, ExperimentStage.Finished, null, _setup.Test.Count, existing.Accuracy, reused);
                return existing;
            }

            throw new InvalidDataException(
                $"'{resultPath}' holds a run of '{row.Name}' (seed {seed}) with other settings (base model, data, options or seed differ). " +
                $"Use a new output folder, or delete '{directory}' to run it again.");
        }

        Directory.CreateDirectory(directory);
        var device = TorchRuntime.ResolveDevice(_setup.Device);
        using CausalLanguageModel student = CausalLanguageModel.FromPretrained(
            _setup.BaseDirectory,
            new ModelLoadOptions { Device = device, DType = _setup.DType?.ToScalarType() });
        double trainingSeconds = 0;
        double? finalNll = null;
        int steps = 0;
        if (row.Trains)
        {
            LogTraining(row.Name, seed);
            var builder = MagDiTrainer.CreateBuilder();
            foreach (var configure in _setup.SharedTrainer)
            {
                configure(builder);
            }

            row.Configure?.Invoke(builder);
            builder.UseStudent(student, _setup.Tokenizer)
                .WithTrainingGraphs(row.TrainingData?.Invoke(_setup.Training) ?? _setup.Training)
                .WithSeed(seed)
                .WithOutputDirectory(row.SharedTraining is null
                    ? Path.Combine(directory, "train")
                    : Path.Combine(_setup.OutputDirectory, "runs", Slug(row.SharedTraining), RunFolderName(seed), "train"))
                // A run interrupted mid-training continues from its checkpoint; a shared training that another row finished
                // resumes at its last step: no step is run again, its weights are loaded.
                .ResumeFromLatestCheckpoint()
                .UseLogger(_logger)
                .UseProgress(new InlineProgress<TrainingProgress>(p => Report(row, seed, index, count, ExperimentStage.Training, p, 0, null, reused: false)));
            using MagDiTrainer trainer = builder.Build();
            TrainingResult training = await trainer.TrainAsync(ct).ConfigureAwait(false);
            if (training.Status == TrainingStatus.Cancelled)
            {
                ct.ThrowIfCancellationRequested();
            }

            trainingSeconds = training.Duration.TotalSeconds;
            steps = training.Steps;
            finalNll = training.FinalMetrics.TryGetValue(Losses.LossReport.Keys.Nll, out double nll) ? nll : null;
        }

        var questions = new List<QuestionOutcome>(_setup.Test.Count);
        var evaluation = new EvaluationOptions
        {
            Decoding = rowEvaluation.Decoding,
            MaxNewTokens = rowEvaluation.MaxNewTokens,
            Samples = rowEvaluation.Samples,
            BatchSize = rowEvaluation.BatchSize,
            Seed = rowEvaluation.Seed + seed,
            Limit = rowEvaluation.Limit,
            PromptFormat = rowEvaluation.PromptFormat,
            // A DSS-MT student answers its label task: prompted with the label prefix it was trained with.
            TaskPrefix = _setup.RowOptions.GetValueOrDefault(row.Name)?.Objective == DistillationObjective.StepByStep
                ? Losses.StepByStepLoss.LabelPrefix
                : rowEvaluation.TaskPrefix,
        };
        var evaluator = new MagDiEvaluator(student, _setup.Tokenizer, evaluation);
        int done = 0;
        foreach (var group in _setup.Test.GroupBy(q => q.Task, StringComparer.OrdinalIgnoreCase))
        {
            int before = done;
            EvaluationResult result = await evaluator.EvaluateAsync(
                group,
                new InlineProgress<int>(n => Report(row, seed, index, count, ExperimentStage.Evaluating, null, before + n, null, reused: false)),
                ct).ConfigureAwait(false);
            await MagDiEvaluator.WriteAsync(result, Path.Combine(directory, "eval", Slug(group.Key)), ct).ConfigureAwait(false);
            ReasoningTask task = ReasoningTasks.Get(result.Task);
            questions.AddRange(result.Questions.Select(q => new QuestionOutcome(q.Id, result.Task, q.IsCorrect, q.GeneratedTokens)
            {
                DistinctAnswers = q.Votes?.Count,                                 // the vote's tally: one entry per normalised answer
                CorrectSamples = q.SampleAnswers?.Count(a => a is not null && task.IsCorrect(a, q.Gold)),
                SampleCount = q.SampleAnswers?.Count,
            }));
            done += result.Count;
        }

        var unit = new UnitResult
        {
            Fingerprint = fingerprint,
            Row = row.Name,
            Seed = shared ? null : seed,
            TrainingSeconds = trainingSeconds,
            Steps = steps,
            FinalNll = finalNll,
            Questions = questions,
        };
        await AtomicFile.WriteAllTextAsync(resultPath, JsonSerializer.Serialize(unit, Json), ct).ConfigureAwait(false);
        _writtenThisRun.Add(resultPath);
        LogFinished(row.Name, seed, unit.Accuracy);
        Report(row, seed, index, count, ExperimentStage.Finished, null, questions.Count, unit.Accuracy, reused: false);
        return unit;
    }

    private ExperimentReport Summarize(Dictionary<(string Row, int Seed), UnitResult> results, Stopwatch wall)
    {
        var seeds = _setup.Seeds;
        var test = _setup.Test;
        var scores = new Dictionary<string, double[,]>(StringComparer.Ordinal);
        var rows = new List<(ExperimentRowDefinition Row, double[,] Scores, double Tokens, double Seconds, Dictionary<string, double> PerTask)>();
        var diversity = new Dictionary<string, ExperimentDiversity>(StringComparer.Ordinal);
        foreach (var row in _setup.Rows)
        {
            var matrix = new double[seeds.Count, test.Count];
            double tokens = 0, seconds = 0;
            var taskSums = new Dictionary<string, (double Correct, int Count)>(StringComparer.Ordinal);
            for (int s = 0; s < seeds.Count; s++)
            {
                UnitResult unit = results[(row.Name, seeds[s])];
                var byId = unit.Questions.ToDictionary(q => q.Id, StringComparer.Ordinal);
                for (int q = 0; q < test.Count; q++)
                {
                    QuestionOutcome outcome = byId[test[q].Id];
                    matrix[s, q] = outcome.Correct ? 1 : 0;
                    tokens += outcome.Tokens;
                    var (c, n) = taskSums.GetValueOrDefault(outcome.Task);
                    taskSums[outcome.Task] = (c + (outcome.Correct ? 1 : 0), n + 1);
                }

                seconds += unit.TrainingSeconds;
            }

            scores[row.Name] = matrix;
            if (DiversityOf(row.Name, results, seeds, test) is { } measured)
            {
                diversity[row.Name] = measured;
            }

            rows.Add((row, matrix, tokens / (seeds.Count * test.Count), seconds / seeds.Count,
                taskSums.ToDictionary(kv => kv.Key, kv => kv.Value.Correct / kv.Value.Count, StringComparer.Ordinal)));
        }

        string? noTeacher = _setup.Rows.FirstOrDefault(r => r.Kind == ExperimentRowKind.NoTeacher)?.Name;
        string? bestSit = rows.Where(r => r.Row.Kind == ExperimentRowKind.SingleTeacher)
            .OrderByDescending(r => ExperimentStatistics.PerSeed(r.Scores).Average())
            .Select(r => r.Row.Name)
            .FirstOrDefault();
        string? level1 = LevelRow(DistillationLevel.RoundZero);
        string? level4 = LevelRow(DistillationLevel.Structure);
        ExperimentComparison Compare(string row, string reference)
        {
            var (difference, p) = ExperimentStatistics.PairedBootstrap(scores[row], scores[reference]);
            return new ExperimentComparison(reference, difference, p);
        }

        // The paper's Table 5 compares each student's self-consistency at the fewest and the most samples.
        var samples = _setup.Rows.Where(r => r.SelfConsistency is not null).Select(r => r.SelfConsistency!.Value.Samples).Distinct().ToList();
        int? fewestSamples = samples.Count > 1 ? samples.Min() : null, mostSamples = samples.Count > 1 ? samples.Max() : null;

        var summaries = new List<ExperimentRowResult>();
        foreach (var (row, matrix, tokens, seconds, perTask) in rows)
        {
            var comparisons = new Dictionary<string, ExperimentComparison>(StringComparer.Ordinal);
            if (noTeacher is not null && row.Name != noTeacher) comparisons["no_teacher"] = Compare(row.Name, noTeacher);
            if (bestSit is not null && row.Name != bestSit) comparisons["best_sit"] = Compare(row.Name, bestSit);
            if (level1 is not null && row.Name != level1 && row.Kind != ExperimentRowKind.NoTeacher && row.Kind != ExperimentRowKind.SingleTeacher)
            {
                comparisons["level_1"] = Compare(row.Name, level1);
            }

            if (level4 is not null && row.Kind == ExperimentRowKind.GraphHead)
            {
                comparisons["level_4"] = Compare(row.Name, level4);
            }

            // Self-consistency rows: the gain over the same student's row with the fewest samples.
            if (row.SelfConsistency is { } sc && fewestSamples is { } k1 && sc.Samples > k1
                && scores.ContainsKey(SelfConsistencyName(sc.Student, k1)))
            {
                comparisons["fewest_samples"] = Compare(row.Name, SelfConsistencyName(sc.Student, k1));
            }

            summaries.Add(new ExperimentRowResult(
                row.Name, row.Description, row.Kind, ExperimentStatistics.Accuracy(matrix), ExperimentStatistics.PerSeed(matrix),
                perTask, tokens, seconds, comparisons)
            { Diversity = diversity.GetValueOrDefault(row.Name) });
        }

        var claims = new List<ExperimentClaim>();
        void Claim(string claim, string? row, string? reference)
        {
            if (row is not null && reference is not null)
            {
                ExperimentComparison c = Compare(row, reference);
                claims.Add(new ExperimentClaim(claim, row, reference, c.Difference.Mean > 0, c));
            }
        }

        string? level2 = LevelRow(DistillationLevel.CorrectNodes), level3 = LevelRow(DistillationLevel.AllNodes);
        Claim("Distilled (MAGDi) > No teacher", level4, noTeacher);
        Claim("Multi-teacher (Level 1) > best SiT", level1, bestSit);
        Claim("MAGDi (Level 4) > best SiT", level4, bestSit);
        Claim("Level 2 > Level 1", level2, level1);
        Claim("Level 3 > Level 2", level3, level2);
        Claim("Level 4 > Level 3", level4, level3);
        string? nodeAttention = GraphHeadRow(GraphHeadKind.NodeAttention), tokenAttention = GraphHeadRow(GraphHeadKind.TokenAttention);
        Claim("GCN (Level 4) > node attention", level4, nodeAttention);
        Claim("GCN (Level 4) > token attention", level4, tokenAttention);
        Claim("Node attention > token attention", nodeAttention, tokenAttention);
        string? dssMt = _setup.Rows.FirstOrDefault(r => _setup.RowOptions.TryGetValue(r.Name, out var o) && o.Objective == DistillationObjective.StepByStep && o.SingleTeacher is null)?.Name;
        Claim("MAGDi (Level 4) > DSS-MT", level4, dssMt);
        if (fewestSamples is { } fewest && mostSamples is { } most)
        {
            // Table 5: self-consistency helps a student taught by several teachers more (the gain is a difference of two rows of
            // the same student, so the claim compares differences, paired over seeds and questions like every comparison).
            string Sc(string? student, int k) => student is null ? string.Empty : SelfConsistencyName(student, k);
            void GainClaim(string claim, string? student, string? reference)
            {
                string a1 = Sc(student, fewest), ak = Sc(student, most), b1 = Sc(reference, fewest), bk = Sc(reference, most);
                if (scores.TryGetValue(a1, out var sa1) && scores.TryGetValue(ak, out var sak) && scores.TryGetValue(b1, out var sb1) && scores.TryGetValue(bk, out var sbk))
                {
                    var (difference, p) = ExperimentStatistics.PairedBootstrap(ExperimentStatistics.Difference(sak, sa1), ExperimentStatistics.Difference(sbk, sb1));
                    claims.Add(new ExperimentClaim(claim, $"{ak} - {a1}", $"{bk} - {b1}", difference.Mean > 0, new ExperimentComparison($"{bk} - {b1}", difference, p)));
                }
            }

            GainClaim($"Self-consistency gain (SC@{fewest} to SC@{most}): MAGDi > No teacher", level4, noTeacher);
            GainClaim($"Self-consistency gain (SC@{fewest} to SC@{most}): MAGDi > best SiT", level4, bestSit);
            if (level4 is not null && bestSit is not null && scores.ContainsKey(Sc(level4, most)) && scores.ContainsKey(Sc(bestSit, most)))
            {
                Claim($"MAGDi (Level 4) > best SiT at SC@{most}", Sc(level4, most), Sc(bestSit, most));
            }
        }

        TeacherReference? teachers = TeacherReferenceOf();
        var report = new ExperimentReport(_setup.OutputDirectory, seeds, test.Count, summaries, bestSit, teachers, claims, string.Empty, wall.Elapsed, []);
        return report.With(tableMarkdown: ExperimentReportWriter.Markdown(report, _setup));
    }

    /// <summary>
    /// The answer diversity of a row sampled more than once per question, when every one of its runs kept its samples'
    /// answers (runs written before they were kept did not): null otherwise.
    /// </summary>
    private static ExperimentDiversity? DiversityOf(string row, Dictionary<(string Row, int Seed), UnitResult> results, IReadOnlyList<int> seeds, IReadOnlyList<Question> test)
    {
        var distinct = new double[seeds.Count, test.Count];
        var anyCorrect = new double[seeds.Count, test.Count];
        var sampleAccuracy = new double[seeds.Count, test.Count];
        int samples = 0;
        for (int s = 0; s < seeds.Count; s++)
        {
            var byId = results[(row, seeds[s])].Questions.ToDictionary(q => q.Id, StringComparer.Ordinal);
            for (int q = 0; q < test.Count; q++)
            {
                QuestionOutcome outcome = byId[test[q].Id];
                if (outcome.SampleCount is not > 1 || outcome.DistinctAnswers is not { } d || outcome.CorrectSamples is not { } c)
                {
                    return null;
                }

                samples = Math.Max(samples, outcome.SampleCount.Value);
                distinct[s, q] = d;
                anyCorrect[s, q] = c > 0 ? 1 : 0;
                sampleAccuracy[s, q] = (double)c / outcome.SampleCount.Value;
            }
        }

        return new ExperimentDiversity(samples, ExperimentStatistics.Accuracy(distinct), ExperimentStatistics.Accuracy(anyCorrect), ExperimentStatistics.Accuracy(sampleAccuracy));
    }

    /// <summary>The name of a self-consistency row of <see cref="MagDiExperimentBuilder.AddSelfConsistencyRows"/>: "{student}, SC@{k}".</summary>
    internal static string SelfConsistencyName(string student, int samples) => $"{student}, SC@{samples}";

    /// <summary>The first Level row whose resolved options train <paramref name="level"/> with every teacher.</summary>
    private string? LevelRow(DistillationLevel level) => _setup.Rows
        .FirstOrDefault(r => r.Kind == ExperimentRowKind.Level && _setup.RowOptions.TryGetValue(r.Name, out var o) && o.Level == level && o.SingleTeacher is null)?.Name;

    /// <summary>The first graph-head row whose resolved options train level 4 with <paramref name="head"/> and every teacher.</summary>
    private string? GraphHeadRow(GraphHeadKind head) => _setup.Rows
        .FirstOrDefault(r => r.Kind == ExperimentRowKind.GraphHead && _setup.RowOptions.TryGetValue(r.Name, out var o)
            && o.Level == DistillationLevel.Structure && o.GraphHead == head && o.SingleTeacher is null)?.Name;

    private TeacherReference? TeacherReferenceOf()
    {
        if (_setup.TeacherDiscussions.Count == 0)
        {
            return null;
        }

        int correct = 0;
        long tokens = 0;
        foreach (InteractionGraph g in _setup.TeacherDiscussions)
        {
            ReasoningTask task = ReasoningTasks.Get(g.Task);
            var last = g.NodesInRound(g.RoundCount - 1).Where(n => n.IsValid && n.Answer is not null)
                .Select(n => new AgentVote(n.Agent, n.Answer!, n.Confidence));
            string? team = ConfidenceVote.TeamAnswer(last);
            correct += task.IsCorrect(team, g.GoldAnswer) ? 1 : 0;
            tokens += g.Nodes.Sum(n => (long)_setup.Tokenizer.Encode(MagDiPromptTemplate.RenderTarget(n.Reasoning, n.Answer)).Count);
        }

        int count = _setup.TeacherDiscussions.Count;
        return new TeacherReference(count, (double)correct / count, (double)tokens / count);
    }

    private void Report(ExperimentRowDefinition row, int seed, int index, int count, ExperimentStage stage, TrainingProgress? training, int evaluated, double? accuracy, bool reused) =>
        _setup.Progress?.Report(new ExperimentProgress(row.Name, seed, index, count, stage, training, evaluated, _setup.Test.Count, accuracy, reused));

    private string UnitFingerprint(ExperimentRowDefinition row, int? seed, string data)
    {
        var options = _setup.RowOptions.GetValueOrDefault(row.Name)?.Clone();
        if (options is not null)
        {
            options.OutputDirectory = null;
            options.Resume = false;
        }

        string json = JsonSerializer.Serialize(new
        {
            version = 1,
            row = row.Name,
            kind = row.Kind.ToString(),
            seed,
            data,
            device = _setup.Device,
            dtype = _setup.DType?.ToString().ToLowerInvariant(),
            options = FingerprintOptions(options),
            evaluation = _setup.Evaluation,
        });
        if (row.VariantKey is not null)
        {
            // Analysis rows only (the fingerprints of the other rows, and so their finished runs, stay as they were).
            json += "\u001F" + row.VariantKey;
        }
        return Hash(json);
    }

    /// <summary>
    /// The options as they enter a run's fingerprint. Settings added after fingerprints were first written are left out
    /// while they hold their default, so a run finished before they existed has the same fingerprint and is still reused.
    /// </summary>
    internal static JsonNode? FingerprintOptions(MagDiTrainingOptions? options)
    {
        if (options is null)
        {
            return null;
        }

        var node = JsonSerializer.SerializeToNode(options)!.AsObject();
        var defaults = new MagDiTrainingOptions();
        if (options.GraphHead == defaults.GraphHead)
        {
            node.Remove(nameof(MagDiTrainingOptions.GraphHead));
            if (options.AttentionHeads == defaults.AttentionHeads)
            {
                node.Remove(nameof(MagDiTrainingOptions.AttentionHeads));
            }
        }

        if (options.Preset == TrainingPreset.Paper)
        {
            node.Remove(nameof(MagDiTrainingOptions.Preset));
        }

        if (options.Objective == DistillationObjective.MagDi)
        {
            node.Remove(nameof(MagDiTrainingOptions.Objective));
            node.Remove(nameof(MagDiTrainingOptions.RationaleWeight));
        }

        return node;
    }

    /// <summary>A hash of the base model's identity, the training MAGs and the test questions.</summary>
    private string DataFingerprint()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string? s)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(s ?? "\u0000"));
            hash.AppendData([0x1F]);
        }

        Add(File.ReadAllText(Path.Combine(_setup.BaseDirectory, "config.json")));
        foreach (string file in Directory.EnumerateFiles(_setup.BaseDirectory, "*.safetensors").Order(StringComparer.Ordinal))
        {
            Add(Path.GetFileName(file));
            Add(WeightsIdentity(file));
        }

        foreach (InteractionGraph g in _setup.Training)
        {
            Add(g.Id);
            Add(g.Task);
            Add(g.Question);
            Add(g.GoldAnswer);
            foreach (MagNode n in g.Nodes)
            {
                Add(n.Agent);
                Add(n.Round.ToString(CultureInfo.InvariantCulture));
                Add(n.Reasoning);
                Add(n.Answer);
                Add(n.IsCorrect ? "1" : "0");
                Add(n.IsValid ? "1" : "0");
            }

            Add(string.Join(",", g.Edges.Pairs.Select(p => $"{p.Source}>{p.Target}")));
        }

        foreach (Question q in _setup.Test)
        {
            Add(q.Id);
            Add(q.Task);
            Add(q.Text);
            Add(q.GoldAnswer);
            Add(string.Join("|", q.Choices.Select(c => c.Label + ":" + c.Text)));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A weights file's identity without reading all of it: its length, its header (names, shapes, offsets) and its first and last MiB.</summary>
    private static string WeightsIdentity(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(stream.Length));
        var buffer = new byte[1 << 20];
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        hash.AppendData(buffer, 0, read);
        if (stream.Length > buffer.Length)
        {
            stream.Seek(Math.Max(read, stream.Length - buffer.Length), SeekOrigin.Begin);
            read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            hash.AppendData(buffer, 0, read);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The folder of a row's run of <paramref name="seed"/> under <c>runs/{row}/</c>; null: the run that serves every seed.</summary>
    internal static string RunFolderName(int? seed) =>
        seed is { } s ? SeedRunFolderPrefix + s.ToString(CultureInfo.InvariantCulture) : AllSeedsRunFolder;

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Reads a finished run's result; a damaged file is an error naming it (MagDi writes it atomically, so it was changed by hand).</summary>
    internal static UnitResult ReadResult(string path)
    {
        try
        {
            UnitResult? result = JsonSerializer.Deserialize<UnitResult>(InputFile.ReadAllText(path, 256L << 20), Json);
            if (result is null || result.Questions.Any(q => q is null || q.Id is null))
            {
                throw new JsonException("it holds no run");
            }

            return result;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(
                $"'{path}' is not the result of a finished run ({ex.Message}). Delete its folder to run that (row, seed) again.", ex);
        }
    }

    internal static string Slug(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (char c in name.ToLowerInvariant())
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        }

        string slug = sb.ToString().Trim('-');
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }

        return slug.Length == 0 ? "row" : slug;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reusing the finished run of {Row} (seed {Seed}) from {Path}")]
    private partial void LogReused(string row, int seed, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training {Row} (seed {Seed})")]
    private partial void LogTraining(string row, int seed);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Row} (seed {Seed}): accuracy {Accuracy:P1}")]
    private partial void LogFinished(string row, int seed, double accuracy);

    /// <summary>
    /// One test question's outcome in one run; with self-consistency also its samples' distinct (normalised) answers and
    /// how many samples were correct (absent from runs written before they were kept).
    /// </summary>
    internal sealed record QuestionOutcome(string Id, string Task, bool Correct, int Tokens)
    {
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public int? DistinctAnswers { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public int? CorrectSamples { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public int? SampleCount { get; init; }
    }

    /// <summary>The file a finished (row, seed) run leaves: enough to rebuild the report without running it again.</summary>
    internal sealed class UnitResult
    {
        public string Fingerprint { get; set; } = string.Empty;

        public string Row { get; set; } = string.Empty;

        public int? Seed { get; set; }

        public double TrainingSeconds { get; set; }

        public int Steps { get; set; }

        public double? FinalNll { get; set; }

        public List<QuestionOutcome> Questions { get; set; } = [];

        [JsonIgnore]
        public double Accuracy => Questions.Count == 0 ? 0 : (double)Questions.Count(q => q.Correct) / Questions.Count;
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
