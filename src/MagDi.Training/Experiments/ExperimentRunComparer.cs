using System.Globalization;
using System.Text;

namespace MagDi.Training.Experiments;

/// <summary>
/// Paired comparisons across two experiment output folders: a row of one <see cref="MagDiExperiment"/> run against a row
/// of another (or of the same), over the seeds both ran and the test questions both answered, with the experiment's own
/// paired bootstrap (<see cref="ExperimentStatistics.PairedBootstrap"/>). This is how to ask whether a change of setting
/// (more epochs, another cleaning, another student) moved a row: run the experiment twice into two folders with the
/// same seeds and test set, then compare.
/// </summary>
/// <remarks>
/// A folder is an experiment's output folder (the one holding <c>runs/</c>), or a folder holding it as
/// <c>experiment/</c>, as the quickstart and <c>magdi experiment --synthetic</c> write it. Each finished (row, seed) run
/// left <c>runs/{row}/seed-{seed}/result.json</c>, or <c>runs/{row}/all-seeds/result.json</c> for a row whose answers
/// do not depend on the seed (the base student decoded greedily), which then pairs with every seed.
/// </remarks>
public static class ExperimentRunComparer
{
    /// <summary>The rows with at least one finished run in the experiment folder <paramref name="folder"/>, as the slugs their folders carry.</summary>
    /// <param name="folder">An experiment output folder.</param>
    /// <exception cref="InvalidDataException">The folder holds no experiment runs.</exception>
    public static IReadOnlyList<string> Rows(string folder)
    {
        string runs = RunsDirectory(folder);
        return [.. Directory.EnumerateDirectories(runs)
            .Where(row => Directory.EnumerateDirectories(row).Any(run => File.Exists(Path.Combine(run, MagDiExperiment.ResultFile))))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)!];
    }

    /// <summary>
    /// Row <paramref name="rowA"/> of the experiment in <paramref name="folderA"/> against row <paramref name="rowB"/> of
    /// the experiment in <paramref name="folderB"/>, paired by seed and test question.
    /// </summary>
    /// <param name="folderA">The first experiment output folder.</param>
    /// <param name="rowA">A row of the first, by name ("Level 4 (MAGDi)") or slug ("level-4-magdi").</param>
    /// <param name="folderB">The second experiment output folder (may be the first).</param>
    /// <param name="rowB">A row of the second.</param>
    /// <param name="seeds">The seeds to pair; null: every seed both rows ran (a seed-independent row pairs with any).</param>
    /// <returns>Both accuracies and the difference A − B with its 95 % interval and p-value.</returns>
    /// <exception cref="InvalidDataException">
    /// A folder holds no runs, a row or seed has no finished run, a result file is damaged, or the two runs of a seed were
    /// not evaluated on the same questions in the same order; the message names the file.
    /// </exception>
    public static ExperimentRunComparison Compare(string folderA, string rowA, string folderB, string rowB, IEnumerable<int>? seeds = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folderA);
        ArgumentException.ThrowIfNullOrWhiteSpace(rowA);
        ArgumentException.ThrowIfNullOrWhiteSpace(folderB);
        ArgumentException.ThrowIfNullOrWhiteSpace(rowB);
        string a = RowDirectory(folderA, rowA), b = RowDirectory(folderB, rowB);
        IReadOnlyList<int>? seedsA = SeedsOf(a), seedsB = SeedsOf(b);                         // null: seed-independent
        List<int> paired = seeds is not null
            ? [.. seeds.Distinct()]
            : [.. (seedsA ?? seedsB ?? []).Where(s => seedsB is null || seedsB.Contains(s)).Where(s => seedsA is null || seedsA.Contains(s)).Order()];
        bool shared = seedsA is null && seedsB is null && seeds is null;
        if (!shared && paired.Count == 0)
        {
            throw new InvalidDataException($"'{a}' and '{b}' have no seed in common (seeds {Describe(seedsA)} and {Describe(seedsB)}).");
        }

        int rows = shared ? 1 : paired.Count;
        double[,]? scoresA = null, scoresB = null;
        int questions = 0;
        string[] questionIds = [];
        for (int i = 0; i < rows; i++)
        {
            int? seed = shared ? null : paired[i];
            string fileA = ResultFile(a, seed, seedsA), fileB = ResultFile(b, seed, seedsB);
            var runA = MagDiExperiment.ReadResult(fileA);
            var runB = MagDiExperiment.ReadResult(fileB);
            if (!runA.Questions.Select(q => q.Id).SequenceEqual(runB.Questions.Select(q => q.Id), StringComparer.Ordinal))
            {
                throw new InvalidDataException(
                    $"'{fileA}' and '{fileB}' were not evaluated on the same test questions in the same order ({runA.Questions.Count} and {runB.Questions.Count} questions): a paired comparison needs the same test set.");
            }

            if (i == 0)
            {
                questions = runA.Questions.Count;
                if (questions == 0)
                {
                    throw new InvalidDataException($"'{fileA}' holds no evaluated question.");
                }

                scoresA = new double[rows, questions];
                scoresB = new double[rows, questions];
                questionIds = [.. runA.Questions.Select(q => q.Id)];
            }
            else if (runA.Questions.Count != questions)
            {
                throw new InvalidDataException($"'{fileA}' holds {runA.Questions.Count} questions, the run of seed {paired[0]} {questions}: every seed must be evaluated on the same test set.");
            }
            else if (FirstDifference(questionIds, runA.Questions) is int at)
            {
                // The bootstrap resamples question j of every seed together: j must be the same question in every seed.
                throw new InvalidDataException(
                    $"'{fileA}': question {at + 1} has id '{runA.Questions[at].Id}' where the run of seed {paired[0]} has '{questionIds[at]}': every seed must be evaluated on the same test questions in the same order.");
            }

            for (int j = 0; j < questions; j++)
            {
                scoresA![i, j] = runA.Questions[j].Correct ? 1 : 0;
                scoresB![i, j] = runB.Questions[j].Correct ? 1 : 0;
            }
        }

        var (difference, p) = ExperimentStatistics.PairedBootstrap(scoresA!, scoresB!);
        return new ExperimentRunComparison(
            Path.GetFileName(a), Path.GetFileName(b), shared ? [] : paired, questions,
            ExperimentStatistics.PerSeed(scoresA!).Average(), ExperimentStatistics.PerSeed(scoresB!).Average(), difference, p);
    }

    private static int? FirstDifference(string[] ids, List<MagDiExperiment.QuestionOutcome> questions)
    {
        for (int j = 0; j < ids.Length; j++)
        {
            if (!string.Equals(ids[j], questions[j].Id, StringComparison.Ordinal))
            {
                return j;
            }
        }

        return null;
    }

    /// <summary>
    /// <paramref name="comparisons"/> as a Markdown table (header, then one line per comparison): both rows, the seeds,
    /// the questions, both accuracies in percent, A − B in points with its 95 % interval (<c>*</c> when it excludes 0),
    /// and p, formatted as the experiment's own <c>table.md</c> formats them. <c>magdi compare</c> prints this.
    /// </summary>
    /// <param name="comparisons">Results of <see cref="Compare"/>.</param>
    public static string Markdown(IEnumerable<ExperimentRunComparison> comparisons)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        var table = new StringBuilder();
        table.AppendLine("| row (A) | row (B) | seeds | questions | A | B | A - B [95 % CI] | p |");
        table.AppendLine("|---|---|---|---:|---:|---:|---:|---:|");
        foreach (ExperimentRunComparison c in comparisons)
        {
            string seedList = c.Seeds.Count == 0 ? "all (one run)" : string.Join(",", c.Seeds);
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.RowA} | {c.RowB} | {seedList} | {c.Questions} | {ExperimentReportWriter.Percent(c.AccuracyA)} | {ExperimentReportWriter.Percent(c.AccuracyB)} | {ExperimentReportWriter.Points(c.Difference.Mean)} [{ExperimentReportWriter.Points(c.Difference.Low)}, {ExperimentReportWriter.Points(c.Difference.High)}]{(c.Significant ? " *" : "")} | {ExperimentReportWriter.PValue(c.PValue)} |"));
        }

        return table.ToString();
    }

    /// <summary>The <c>runs/</c> folder of an experiment output folder, or of its <c>experiment/</c> subfolder.</summary>
    private static string RunsDirectory(string folder)
    {
        foreach (string candidate in new[] { Path.Combine(folder, "runs"), Path.Combine(folder, "experiment", "runs") })
        {
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidDataException($"'{folder}' is not an experiment output folder: it has neither 'runs/' nor 'experiment/runs/'.");
    }

    private static string RowDirectory(string folder, string row)
    {
        string runs = RunsDirectory(folder);
        string directory = Path.Combine(runs, MagDiExperiment.Slug(row));
        if (!Directory.Exists(directory))
        {
            throw new InvalidDataException(
                $"'{directory}': no runs of row '{row}' in this experiment (its rows: {string.Join(", ", Rows(folder))}).");
        }

        return directory;
    }

    /// <summary>The seeds a row ran, or null when its one run serves every seed (<c>all-seeds</c>).</summary>
    private static List<int>? SeedsOf(string rowDirectory)
    {
        if (File.Exists(Path.Combine(rowDirectory, MagDiExperiment.RunFolderName(null), MagDiExperiment.ResultFile)))
        {
            return null;
        }

        var seeds = new List<int>();
        foreach (string run in Directory.EnumerateDirectories(rowDirectory, MagDiExperiment.SeedRunFolderPrefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(run)[MagDiExperiment.SeedRunFolderPrefix.Length..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed)
                && File.Exists(Path.Combine(run, MagDiExperiment.ResultFile)))
            {
                seeds.Add(seed);
            }
        }

        return seeds;
    }

    private static string ResultFile(string rowDirectory, int? seed, IReadOnlyList<int>? seeds)
    {
        string file = Path.Combine(rowDirectory, MagDiExperiment.RunFolderName(seeds is null ? null : seed), MagDiExperiment.ResultFile);
        if (!File.Exists(file))
        {
            throw new InvalidDataException($"'{file}': row '{Path.GetFileName(rowDirectory)}' has no finished run of seed {seed} (its seeds: {Describe(seeds)}).");
        }

        return file;
    }

    private static string Describe(IReadOnlyList<int>? seeds) => seeds is null ? "one run for all seeds" : seeds.Count == 0 ? "none" : string.Join(", ", seeds.Order());
}

/// <summary>One row of one experiment against one row of another, paired by seed and test question (<see cref="ExperimentRunComparer"/>).</summary>
public sealed class ExperimentRunComparison
{
    internal ExperimentRunComparison(string rowA, string rowB, IReadOnlyList<int> seeds, int questions, double accuracyA, double accuracyB, Interval difference, double pValue)
    {
        RowA = rowA;
        RowB = rowB;
        Seeds = seeds;
        Questions = questions;
        AccuracyA = accuracyA;
        AccuracyB = accuracyB;
        Difference = difference;
        PValue = pValue;
    }

    /// <summary>The first row's slug.</summary>
    public string RowA { get; }

    /// <summary>The second row's slug.</summary>
    public string RowB { get; }

    /// <summary>The seeds paired; empty when both rows' answers do not depend on the seed (one run each).</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <summary>Test questions per seed.</summary>
    public int Questions { get; }

    /// <summary>The first row's accuracy over the paired seeds and questions (0-1).</summary>
    public double AccuracyA { get; }

    /// <summary>The second row's accuracy over the paired seeds and questions (0-1).</summary>
    public double AccuracyB { get; }

    /// <summary>Accuracy of A minus accuracy of B with its 95 % paired-bootstrap interval (0-1 scale).</summary>
    public Interval Difference { get; }

    /// <summary>Two-sided p-value of "no difference" from the paired bootstrap.</summary>
    public double PValue { get; }

    /// <summary>Whether the 95 % interval of the difference excludes zero.</summary>
    public bool Significant => Difference.ExcludesZeroAbove || Difference.ExcludesZeroBelow;
}
