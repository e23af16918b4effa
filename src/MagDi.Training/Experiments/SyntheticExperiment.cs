using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Graphs.IO;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Experiments;

/// <summary>Settings of <see cref="SyntheticExperiment.PrepareAsync"/>.</summary>
public sealed class SyntheticExperimentOptions
{
    /// <summary>Seed of the benchmark and of the simulated teachers. Default 7.</summary>
    public int Seed { get; set; } = 7;

    /// <summary>Training questions the teachers discuss (one MAG each). Default 400.</summary>
    public int TrainingQuestions { get; set; } = 400;

    /// <summary>Held-out test questions. Default 200.</summary>
    public int TestQuestions { get; set; } = 200;

    /// <summary>
    /// The benchmark's range: by default 2 to 4 steps, quantities up to 30, values up to 99, doublings allowed: more steps and
    /// larger numbers than the base student's pretraining corpus (<see cref="SyntheticBaseModelOptions.Corpus"/>).
    /// </summary>
    public SyntheticBenchmarkOptions Benchmark { get; set; } = new() { MinSteps = 2, MaxSteps = 4, MaxOperand = 30, MaxValue = 99, AllowMultiplication = true };

    /// <summary>Discussion rounds after round 0 (ReConcile and the paper: 3).</summary>
    public int DiscussionRounds { get; set; } = 3;

    /// <summary>The base student's recipe.</summary>
    public SyntheticBaseModelOptions BaseModel { get; set; } = new();

    /// <summary>
    /// A folder of prebuilt base students (<c>synthetic-base-{fingerprint}</c> folders, as the samples ship) looked in before
    /// building one; null builds (once) under the output folder.
    /// </summary>
    public string? PrebuiltBaseModels { get; set; }

    /// <summary>Optimizer steps of every distilled student (the same budget for every row). Default 100.</summary>
    public int Steps { get; set; } = 100;

    /// <summary>MAGs per optimizer step. Default 4.</summary>
    public int BatchSize { get; set; } = 4;

    /// <summary>
    /// Peak learning rate of the LoRA weights and of the scorer and GCN heads. Default 1e-2: the lowest validation loss of
    /// Level 1 among 3e-3, 1e-2 and 3e-2 (docs/quickstart.md); small students need far more than the paper's 5e-6 for 7B.
    /// </summary>
    public double LearningRate { get; set; } = 1e-2;

    /// <summary>
    /// Train on reasoning with the sentences that start "I agree"/"I disagree" removed, as the authors' release does before
    /// training (<see cref="MagDiTrainingOptions.StripAgreementSentences"/>). Default true: the paper does not describe this
    /// step, and it is the pipeline behind the paper's numbers. The teachers state such a stance in every later-round
    /// answer, as ReConcile's debate prompt asks them to.
    /// </summary>
    public bool StripAgreementSentences { get; set; } = true;

    /// <summary>Longest generated answer at test time (greedy decoding). Default 160 (the longest teacher style needs about 130).</summary>
    public int MaxNewTokens { get; set; } = 160;

    /// <summary>The small budget of <c>--quick</c> runs (about a minute of compute on two cores): fewer questions and steps.</summary>
    public static SyntheticExperimentOptions Quick() => new()
    {
        TrainingQuestions = 160,
        TestQuestions = 100,
        Steps = 24,
    };

    internal IReadOnlyList<string> GetProblems()
    {
        var problems = new List<string>();
        if (TrainingQuestions < 1) problems.Add($"TrainingQuestions must be at least 1 (was {TrainingQuestions}).");
        if (TestQuestions < 1) problems.Add($"TestQuestions must be at least 1 (was {TestQuestions}).");
        if (DiscussionRounds is < 0 or > 10) problems.Add($"DiscussionRounds must be in [0, 10] (was {DiscussionRounds}).");
        if ((long)TrainingQuestions + TestQuestions > 1_000_000) problems.Add("TrainingQuestions + TestQuestions must be at most 1000000.");
        if (Steps < 1) problems.Add($"Steps must be at least 1 (was {Steps}).");
        if (BatchSize < 1) problems.Add($"BatchSize must be at least 1 (was {BatchSize}).");
        if (!(LearningRate > 0 && LearningRate < 10)) problems.Add($"LearningRate must be in (0, 10) (was {LearningRate}).");
        if (MaxNewTokens < 1) problems.Add($"MaxNewTokens must be at least 1 (was {MaxNewTokens}).");
        return problems;
    }
}

/// <summary>What <see cref="SyntheticExperiment.PrepareAsync"/> made.</summary>
public sealed class SyntheticExperimentData
{
    internal SyntheticExperimentData(string baseModelDirectory, IReadOnlyList<InteractionGraph> trainingGraphs, IReadOnlyList<Question> testQuestions, IReadOnlyList<InteractionGraph> testGraphs, string trainingMagsPath, string testMagsPath)
    {
        BaseModelDirectory = baseModelDirectory;
        TrainingGraphs = trainingGraphs;
        TestQuestions = testQuestions;
        TestGraphs = testGraphs;
        TrainingMagsPath = trainingMagsPath;
        TestMagsPath = testMagsPath;
    }

    /// <summary>The pretrained base student (a Hugging Face checkpoint folder).</summary>
    public string BaseModelDirectory { get; }

    /// <summary>MAGs of the training questions.</summary>
    public IReadOnlyList<InteractionGraph> TrainingGraphs { get; }

    /// <summary>The held-out questions.</summary>
    public IReadOnlyList<Question> TestQuestions { get; }

    /// <summary>The teachers' discussions of the held-out questions (for their accuracy and token cost only; never trained on).</summary>
    public IReadOnlyList<InteractionGraph> TestGraphs { get; }

    /// <summary>The training MAG corpus (MagDi JSON Lines).</summary>
    public string TrainingMagsPath { get; }

    /// <summary>The test discussions (MagDi JSON Lines).</summary>
    public string TestMagsPath { get; }
}

/// <summary>What the synthetic set-up is doing.</summary>
public sealed class SyntheticSetupProgress
{
    internal SyntheticSetupProgress(string stage, int done, int total, double? loss)
    {
        Stage = stage;
        Done = done;
        Total = total;
        Loss = loss;
    }

    /// <summary><c>pretraining</c>, <c>discussing-train</c> or <c>discussing-test</c>.</summary>
    public string Stage { get; }

    /// <summary>Steps or questions done.</summary>
    public int Done { get; }

    /// <summary>Steps or questions in all.</summary>
    public int Total { get; }

    /// <summary>The pretraining loss, while pretraining.</summary>
    public double? Loss { get; }
}

/// <summary>
/// The offline MAGDi experiment: a synthetic benchmark, a base student pretrained on textbook solutions of easier problems
/// (<see cref="SyntheticBaseModel"/>), and three simulated teachers with their own styles, mistakes and confidence
/// (<see cref="SimulatedTeacherProfile.Defaults"/>) discussing every question through the real ReConcile
/// <see cref="DiscussionRunner"/>. Everything is cached under the output folder by a fingerprint of the settings, so a
/// restarted experiment reuses it.
/// </summary>
public static class SyntheticExperiment
{
    /// <summary>Builds (or reuses) the base student and the MAG corpora.</summary>
    /// <exception cref="OptionsValidationException">The options are invalid (every failure listed).</exception>
    public static async Task<SyntheticExperimentData> PrepareAsync(
        string outputDirectory,
        SyntheticExperimentOptions options,
        IProgress<SyntheticSetupProgress>? progress = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.GetProblems();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(SyntheticExperimentOptions), problems);
        }

        SyntheticTasks.EnsureRegistered();
        string root = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(root);
        ILogger? logger = loggerFactory?.CreateLogger(typeof(SyntheticExperiment).FullName!);
        string baseDirectory = options.PrebuiltBaseModels is { } shipped && SyntheticBaseModel.IsBuilt(shipped, options.BaseModel)
            ? SyntheticBaseModel.PathFor(shipped, options.BaseModel)
            : await SyntheticBaseModel.EnsureAsync(
            Path.Combine(root, "base"),
            options.BaseModel,
            progress is null ? null : new InlineProgress<TrainingProgress>(p => progress.Report(
                new SyntheticSetupProgress("pretraining", p.Step, p.TotalSteps, p.Metrics.TryGetValue(Losses.LossReport.Keys.Nll, out double l) ? l : null))),
            logger,
            cancellationToken).ConfigureAwait(false);

        var benchmark = new SyntheticBenchmarkOptions
        {
            Seed = options.Seed,
            MinSteps = options.Benchmark.MinSteps,
            MaxSteps = options.Benchmark.MaxSteps,
            MaxOperand = options.Benchmark.MaxOperand,
            MaxValue = options.Benchmark.MaxValue,
            AllowMultiplication = options.Benchmark.AllowMultiplication,
        };
        // Generated problems are distinct, so the first ones train and the rest test without a question in both.
        var generated = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, options.TrainingQuestions + options.TestQuestions, benchmark);
        var trainQuestions = generated.Take(options.TrainingQuestions).Select(p => p.ToQuestion()).ToList();
        var testQuestions = generated.Skip(options.TrainingQuestions).Select(p => p.ToQuestion()).ToList();

        string data = Path.Combine(root, "data-" + Fingerprint(options));
        Directory.CreateDirectory(data);
        var runner = new DiscussionRunner(
            SimulatedTeacher.CreateTeam(options.Seed),
            new DiscussionOptions { MaxRounds = options.DiscussionRounds, MaxConcurrentQuestions = 1 },
            loggerFactory?.CreateLogger<DiscussionRunner>());
        string trainPath = Path.Combine(data, "mags.jsonl");
        string testPath = Path.Combine(data, "test-mags.jsonl");
        var trainGraphs = await DiscussAsync(runner, trainQuestions, trainPath, "discussing-train", progress, cancellationToken).ConfigureAwait(false);
        var testGraphs = await DiscussAsync(runner, testQuestions, testPath, "discussing-test", progress, cancellationToken).ConfigureAwait(false);
        return new SyntheticExperimentData(baseDirectory, trainGraphs, testQuestions, testGraphs, trainPath, testPath);
    }

    /// <summary>
    /// The experiment of the paper on prepared synthetic data: No teacher, SiT for each teacher and Levels 1 to 4, every
    /// student a LoRA adapter (the paper's rank 16, alpha 32, dropout 0.05 on q_proj and v_proj) on the base, trained with the
    /// budget of <paramref name="options"/>, answering greedily; the teachers' own discussion is the efficiency reference.
    /// Add the seeds and the output folder.
    /// </summary>
    public static MagDiExperimentBuilder CreateBuilder(SyntheticExperimentData data, SyntheticExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        return MagDiExperiment.CreateBuilder()
            .UseBaseModel(data.BaseModelDirectory, device: "cpu", dtype: ModelDType.F32)
            .WithTrainingGraphs(data.TrainingGraphs)
            .WithTestQuestions(data.TestQuestions)
            .WithTeacherDiscussions(data.TestGraphs)
            .AddNoTeacherRow()
            .AddSingleTeacherRows()
            .AddLevelRows()
            .ConfigureTrainer(t => t
                .WithLora()
                .WithSchedule(epochs: 100_000, warmupSteps: Math.Max(1, options.Steps / 10), maxSteps: options.Steps)
                .WithBatchSize(options.BatchSize, gradientAccumulationSteps: 1)
                .WithLearningRate(options.LearningRate)
                .Configure(o => o.StripAgreementSentences = options.StripAgreementSentences))
            .WithEvaluation(new EvaluationOptions { MaxNewTokens = options.MaxNewTokens, BatchSize = 64 });
    }

    private static async Task<List<InteractionGraph>> DiscussAsync(
        DiscussionRunner runner, List<Question> questions, string path, string stage, IProgress<SyntheticSetupProgress>? progress, CancellationToken ct)
    {
        DiscussionRunSummary summary = await runner.RunAsync(
            questions,
            path,
            progress is null ? null : new InlineProgress<DiscussionProgress>(p => progress.Report(new SyntheticSetupProgress(stage, p.Completed + p.Skipped, p.Total, null))),
            ct).ConfigureAwait(false);
        if (summary.FailedQuestionIds.Count > 0)
        {
            throw new InvalidOperationException($"The simulated discussion failed on {summary.FailedQuestionIds.Count} question(s): {string.Join(", ", summary.FailedQuestionIds.Take(5))}.");
        }

        MagReadResult read = await MagFile.ReadAsync(path, cancellationToken: ct).ConfigureAwait(false);
        var byId = read.Graphs.ToDictionary(g => g.Id, StringComparer.Ordinal);
        return questions.Select(q => byId[q.Id]).ToList();
    }

    private static string Fingerprint(SyntheticExperimentOptions options)
    {
        string json = JsonSerializer.Serialize(new
        {
            version = 3, // 2: the teachers compute in the question's order (bard explains each step, claude writes equations);
                         // 3: every later-round answer states its stance ("I agree ..."/"I disagree ...")
            options.Seed,
            options.TrainingQuestions,
            options.TestQuestions,
            options.Benchmark,
            options.DiscussionRounds,
            teachers = SimulatedTeacherProfile.Defaults,
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..12];
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
