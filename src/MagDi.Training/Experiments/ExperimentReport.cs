namespace MagDi.Training.Experiments;

/// <summary>What a row of an experiment trains on.</summary>
public enum ExperimentRowKind
{
    /// <summary>The base student itself, zero-shot (the paper's "No Teacher").</summary>
    NoTeacher,

    /// <summary>One teacher's correct round-0 chains (the paper's SiT baselines).</summary>
    SingleTeacher,

    /// <summary>A MAGDi level (Level 1 to Level 4).</summary>
    Level,

    /// <summary>A trainer configuration of the caller's.</summary>
    Custom,

    /// <summary>MAGDi (level 4) with an attention graph head instead of the GCN (paper Table 6), compared with Level 4.</summary>
    GraphHead,
    /// <summary>A baseline of the paper other than SiT (DSS-MT).</summary>
    Baseline,

    /// <summary>
    /// A row of one of the paper's analyses (self-consistency@k, training-set size, edge patterns): a variant of another row
    /// that the report's claims and reference comparisons leave out.
    /// </summary>
    Analysis,
}

/// <summary>The paired difference between a row and a reference row, over the same seeds and test questions.</summary>
public sealed class ExperimentComparison
{
    internal ExperimentComparison(string reference, Interval difference, double pValue)
    {
        Reference = reference;
        Difference = difference;
        PValue = pValue;
    }

    /// <summary>The reference row's name.</summary>
    public string Reference { get; }

    /// <summary>Mean accuracy difference (row minus reference) with its 95 % paired-bootstrap interval.</summary>
    public Interval Difference { get; }

    /// <summary>Two-sided p-value of "no difference" from the paired bootstrap.</summary>
    public double PValue { get; }

    /// <summary>Whether the 95 % interval of the difference excludes zero.</summary>
    public bool Significant => Difference.ExcludesZeroAbove || Difference.ExcludesZeroBelow;
}

/// <summary>One row of an experiment, over all seeds.</summary>
public sealed class ExperimentRowResult
{
    internal ExperimentRowResult(string name, string description, ExperimentRowKind kind, Interval accuracy, IReadOnlyList<double> perSeed, IReadOnlyDictionary<string, double> perTask, double averageGeneratedTokens, double averageTrainingSeconds, IReadOnlyDictionary<string, ExperimentComparison> comparisons)
    {
        Name = name;
        Description = description;
        Kind = kind;
        Accuracy = accuracy;
        PerSeed = perSeed;
        PerTask = perTask;
        AverageGeneratedTokens = averageGeneratedTokens;
        AverageTrainingSeconds = averageTrainingSeconds;
        Comparisons = comparisons;
    }

    /// <summary>The row's name (for example "SiT (gpt4)" or "Level 4 (MAGDi)").</summary>
    public string Name { get; }

    /// <summary>What the row trains on.</summary>
    public string Description { get; }

    /// <summary>The kind of row.</summary>
    public ExperimentRowKind Kind { get; }

    /// <summary>Mean accuracy over seeds and questions with its 95 % interval (seeds and questions as sources of chance).</summary>
    public Interval Accuracy { get; }

    /// <summary>Accuracy of each seed, in the experiment's seed order.</summary>
    public IReadOnlyList<double> PerSeed { get; }

    /// <summary>Mean accuracy per task.</summary>
    public IReadOnlyDictionary<string, double> PerTask { get; }

    /// <summary>Mean tokens the student generated per question.</summary>
    public double AverageGeneratedTokens { get; }

    /// <summary>Mean training wall time per seed (0 for the base student).</summary>
    public double AverageTrainingSeconds { get; }

    /// <summary>
    /// Paired comparisons, keyed <c>no_teacher</c>, <c>best_sit</c> and <c>level_1</c> where those rows exist, <c>level_4</c> for
    /// graph-head rows, and <c>fewest_samples</c> for a self-consistency row against the same student with the fewest samples
    /// ("SiT (gpt4), SC@10" against "SiT (gpt4), SC@1").
    /// </summary>
    public IReadOnlyDictionary<string, ExperimentComparison> Comparisons { get; }

    /// <summary>
    /// For a row that samples several answers per question (self-consistency), how diverse its samples' answers are; null
    /// for other rows and for runs written before samples were kept.
    /// </summary>
    public ExperimentDiversity? Diversity { get; internal init; }
}

/// <summary>
/// How diverse a self-consistency row's sampled answers are, over seeds and questions (each with its 95 % interval, as a
/// row's accuracy). Self-consistency can only gain where the samples disagree and some of them are right, which is why the
/// paper credits multi-teacher students' larger gains to diversity (section 5.2); these numbers measure it.
/// </summary>
public sealed class ExperimentDiversity
{
    internal ExperimentDiversity(int samples, Interval distinctAnswers, Interval anyCorrect, Interval sampleAccuracy)
    {
        Samples = samples;
        DistinctAnswers = distinctAnswers;
        AnyCorrect = anyCorrect;
        SampleAccuracy = sampleAccuracy;
    }

    /// <summary>Samples per question.</summary>
    public int Samples { get; }

    /// <summary>Distinct extracted answers (normalised by the task) among a question's samples, on average.</summary>
    public Interval DistinctAnswers { get; }

    /// <summary>Fraction of questions where at least one sample is correct (the ceiling of any vote over the samples).</summary>
    public Interval AnyCorrect { get; }

    /// <summary>Fraction of samples that are correct (the expected accuracy of one sample).</summary>
    public Interval SampleAccuracy { get; }
}

/// <summary>A claim of the paper checked on this experiment.</summary>
public sealed class ExperimentClaim
{
    internal ExperimentClaim(string claim, string row, string reference, bool held, ExperimentComparison comparison)
    {
        Claim = claim;
        Row = row;
        Reference = reference;
        Held = held;
        Comparison = comparison;
    }

    /// <summary>The claim, for example "Level 1 > best SiT".</summary>
    public string Claim { get; }

    /// <summary>
    /// The row the claim is about; for a claim about a self-consistency gain, the difference of two rows of one student
    /// ("Level 4 (MAGDi), SC@10 - Level 4 (MAGDi), SC@1").
    /// </summary>
    public string Row { get; }

    /// <summary>The row (or, for a gain, the difference of two rows) it is compared with.</summary>
    public string Reference { get; }

    /// <summary>Whether the mean difference has the claimed sign.</summary>
    public bool Held { get; }

    /// <summary>The paired comparison behind the verdict.</summary>
    public ExperimentComparison Comparison { get; }

    /// <summary>Whether the claim held and its 95 % interval excludes zero.</summary>
    public bool Significant => Held && Comparison.Significant;
}

/// <summary>The teachers' own discussion of the test questions, for the efficiency comparison (the paper's Table 2).</summary>
public sealed class TeacherReference
{
    internal TeacherReference(int questions, double accuracy, double averageTokens)
    {
        Questions = questions;
        Accuracy = accuracy;
        AverageTokens = averageTokens;
    }

    /// <summary>Test questions the teachers discussed.</summary>
    public int Questions { get; }

    /// <summary>Accuracy of the team's final confidence-weighted vote.</summary>
    public double Accuracy { get; }

    /// <summary>Tokens the teachers wrote per question, all agents and rounds, counted with the student's tokenizer.</summary>
    public double AverageTokens { get; }
}

/// <summary>Everything an experiment measured and wrote.</summary>
public sealed class ExperimentReport
{
    internal ExperimentReport(string outputDirectory, IReadOnlyList<int> seeds, int testQuestions, IReadOnlyList<ExperimentRowResult> rows, string? bestSingleTeacher, TeacherReference? teachers, IReadOnlyList<ExperimentClaim> claims, string tableMarkdown, TimeSpan duration, IReadOnlyList<string> files)
    {
        OutputDirectory = outputDirectory;
        Seeds = seeds;
        TestQuestions = testQuestions;
        Rows = rows;
        BestSingleTeacher = bestSingleTeacher;
        Teachers = teachers;
        Claims = claims;
        TableMarkdown = tableMarkdown;
        Duration = duration;
        Files = files;
    }

    /// <summary>The experiment's folder.</summary>
    public string OutputDirectory { get; }

    /// <summary>The seeds, in order.</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <summary>Test questions every row was evaluated on.</summary>
    public int TestQuestions { get; }

    /// <summary>The rows in the order they were added.</summary>
    public IReadOnlyList<ExperimentRowResult> Rows { get; }

    /// <summary>The SiT row with the highest mean accuracy (the reference of <c>best_sit</c>), or null.</summary>
    public string? BestSingleTeacher { get; }

    /// <summary>The teachers' own accuracy and token count on the test questions, when their discussions were given.</summary>
    public TeacherReference? Teachers { get; }

    /// <summary>The paper's claims that the rows allow checking.</summary>
    public IReadOnlyList<ExperimentClaim> Claims { get; }

    /// <summary>The table written to <c>table.md</c>.</summary>
    public string TableMarkdown { get; }

    /// <summary>Wall time of the run (reused runs cost nothing).</summary>
    public TimeSpan Duration { get; }

    /// <summary>Files written by the runner.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>A copy with the given members replaced (what <c>with</c> did while this was a record).</summary>
    internal ExperimentReport With(string? tableMarkdown = null, TimeSpan? duration = null, IReadOnlyList<string>? files = null) =>
        new(OutputDirectory, Seeds, TestQuestions, Rows, BestSingleTeacher, Teachers, Claims, tableMarkdown ?? TableMarkdown, duration ?? Duration, files ?? Files);
}

/// <summary>Where an experiment is.</summary>
public enum ExperimentStage
{
    /// <summary>A (row, seed) run is training.</summary>
    Training,

    /// <summary>A (row, seed) run is being evaluated.</summary>
    Evaluating,

    /// <summary>A (row, seed) run finished (or was found finished and reused).</summary>
    Finished,
}

/// <summary>Progress of an experiment.</summary>
public sealed class ExperimentProgress
{
    internal ExperimentProgress(string row, int seed, int run, int runs, ExperimentStage stage, TrainingProgress? training, int evaluated, int testQuestions, double? accuracy, bool reused)
    {
        Row = row;
        Seed = seed;
        Run = run;
        Runs = runs;
        Stage = stage;
        Training = training;
        Evaluated = evaluated;
        TestQuestions = testQuestions;
        Accuracy = accuracy;
        Reused = reused;
    }

    /// <summary>The row being run.</summary>
    public string Row { get; }

    /// <summary>Its seed.</summary>
    public int Seed { get; }

    /// <summary>Index of this (row, seed) run, from 1.</summary>
    public int Run { get; }

    /// <summary>Number of (row, seed) runs.</summary>
    public int Runs { get; }

    /// <summary>What the run is doing.</summary>
    public ExperimentStage Stage { get; }

    /// <summary>The trainer's progress while <see cref="ExperimentStage.Training"/>.</summary>
    public TrainingProgress? Training { get; }

    /// <summary>Test questions answered so far while <see cref="ExperimentStage.Evaluating"/>.</summary>
    public int Evaluated { get; }

    /// <summary>Test questions in all.</summary>
    public int TestQuestions { get; }

    /// <summary>The run's accuracy when <see cref="ExperimentStage.Finished"/>.</summary>
    public double? Accuracy { get; }

    /// <summary>Whether a finished run was found on disk and not redone.</summary>
    public bool Reused { get; }
}
