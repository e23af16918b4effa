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
/// <param name="Reference">The reference row's name.</param>
/// <param name="Difference">Mean accuracy difference (row minus reference) with its 95 % paired-bootstrap interval.</param>
/// <param name="PValue">Two-sided p-value of "no difference" from the paired bootstrap.</param>
public sealed record ExperimentComparison(string Reference, Interval Difference, double PValue)
{
    /// <summary>Whether the 95 % interval of the difference excludes zero.</summary>
    public bool Significant => Difference.ExcludesZeroAbove || Difference.ExcludesZeroBelow;
}

/// <summary>One row of an experiment, over all seeds.</summary>
/// <param name="Name">The row's name (for example "SiT (gpt4)" or "Level 4 (MAGDi)").</param>
/// <param name="Description">What the row trains on.</param>
/// <param name="Kind">The kind of row.</param>
/// <param name="Accuracy">Mean accuracy over seeds and questions with its 95 % interval (seeds and questions as sources of chance).</param>
/// <param name="PerSeed">Accuracy of each seed, in the experiment's seed order.</param>
/// <param name="PerTask">Mean accuracy per task.</param>
/// <param name="AverageGeneratedTokens">Mean tokens the student generated per question.</param>
/// <param name="AverageTrainingSeconds">Mean training wall time per seed (0 for the base student).</param>
/// <param name="Comparisons">Paired comparisons, keyed <c>no_teacher</c>, <c>best_sit</c> and <c>level_1</c> where those rows exist.</param>
public sealed record ExperimentRowResult(
    string Name,
    string Description,
    ExperimentRowKind Kind,
    Interval Accuracy,
    IReadOnlyList<double> PerSeed,
    IReadOnlyDictionary<string, double> PerTask,
    double AverageGeneratedTokens,
    double AverageTrainingSeconds,
    IReadOnlyDictionary<string, ExperimentComparison> Comparisons);

/// <summary>A claim of the paper checked on this experiment.</summary>
/// <param name="Claim">The claim, for example "Level 1 > best SiT".</param>
/// <param name="Row">The row the claim is about.</param>
/// <param name="Reference">The row it is compared with.</param>
/// <param name="Held">Whether the mean difference has the claimed sign.</param>
/// <param name="Comparison">The paired comparison behind the verdict.</param>
public sealed record ExperimentClaim(string Claim, string Row, string Reference, bool Held, ExperimentComparison Comparison)
{
    /// <summary>Whether the claim held and its 95 % interval excludes zero.</summary>
    public bool Significant => Held && Comparison.Significant;
}

/// <summary>The teachers' own discussion of the test questions, for the efficiency comparison (the paper's Table 2).</summary>
/// <param name="Questions">Test questions the teachers discussed.</param>
/// <param name="Accuracy">Accuracy of the team's final confidence-weighted vote.</param>
/// <param name="AverageTokens">Tokens the teachers wrote per question, all agents and rounds, counted with the student's tokenizer.</param>
public sealed record TeacherReference(int Questions, double Accuracy, double AverageTokens);

/// <summary>Everything an experiment measured and wrote.</summary>
/// <param name="OutputDirectory">The experiment's folder.</param>
/// <param name="Seeds">The seeds, in order.</param>
/// <param name="TestQuestions">Test questions every row was evaluated on.</param>
/// <param name="Rows">The rows in the order they were added.</param>
/// <param name="BestSingleTeacher">The SiT row with the highest mean accuracy (the reference of <c>best_sit</c>), or null.</param>
/// <param name="Teachers">The teachers' own accuracy and token count on the test questions, when their discussions were given.</param>
/// <param name="Claims">The paper's claims that the rows allow checking.</param>
/// <param name="TableMarkdown">The table written to <c>table.md</c>.</param>
/// <param name="Duration">Wall time of the run (reused runs cost nothing).</param>
/// <param name="Files">Files written by the runner.</param>
public sealed record ExperimentReport(
    string OutputDirectory,
    IReadOnlyList<int> Seeds,
    int TestQuestions,
    IReadOnlyList<ExperimentRowResult> Rows,
    string? BestSingleTeacher,
    TeacherReference? Teachers,
    IReadOnlyList<ExperimentClaim> Claims,
    string TableMarkdown,
    TimeSpan Duration,
    IReadOnlyList<string> Files);

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
/// <param name="Row">The row being run.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Run">Index of this (row, seed) run, from 1.</param>
/// <param name="Runs">Number of (row, seed) runs.</param>
/// <param name="Stage">What the run is doing.</param>
/// <param name="Training">The trainer's progress while <see cref="ExperimentStage.Training"/>.</param>
/// <param name="Evaluated">Test questions answered so far while <see cref="ExperimentStage.Evaluating"/>.</param>
/// <param name="TestQuestions">Test questions in all.</param>
/// <param name="Accuracy">The run's accuracy when <see cref="ExperimentStage.Finished"/>.</param>
/// <param name="Reused">Whether a finished run was found on disk and not redone.</param>
public sealed record ExperimentProgress(
    string Row,
    int Seed,
    int Run,
    int Runs,
    ExperimentStage Stage,
    TrainingProgress? Training,
    int Evaluated,
    int TestQuestions,
    double? Accuracy,
    bool Reused);
