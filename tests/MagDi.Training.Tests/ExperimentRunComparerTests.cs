using System.Text.Json;
using MagDi.Training.Experiments;

namespace MagDi.Training.Tests;

/// <summary>
/// <see cref="ExperimentRunComparer"/> gives exactly what the experiment's own paired bootstrap gives for the same scores
/// (the command line's behaviour and errors: MagDi.Cli.Tests' CompareCommandTests).
/// </summary>
public sealed class ExperimentRunComparerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "magdi-compare-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static bool CorrectA(int seed, int question) => (question * 7 + seed) % 10 < 7;       // about 70 %

    private static bool CorrectB(int seed, int question) => (question * 3 + seed) % 10 < 6;       // about 60 %

    private void Write(string folder, string row, int seed, Func<int, int, bool> correct)
    {
        string directory = Path.Combine(_root, folder, "runs", row, $"seed-{seed}");
        Directory.CreateDirectory(directory);
        var questions = Enumerable.Range(0, 50).Select(q => new { id = $"q{q}", task = "t", correct = correct(seed, q), tokens = 5 });
        File.WriteAllText(Path.Combine(directory, "result.json"), JsonSerializer.Serialize(new { fingerprint = "f", row, seed, questions }));
    }

    [Fact]
    public void Compare_IsTheExperimentsPairedBootstrapOfTheSameScores()
    {
        int[] seeds = [1, 2, 3, 4];
        foreach (int seed in seeds)
        {
            Write("a", "level-4-magdi", seed, CorrectA);
            Write("b", "level-4-magdi", seed, CorrectB);
        }

        var scoresA = new double[seeds.Length, 50];
        var scoresB = new double[seeds.Length, 50];
        for (int s = 0; s < seeds.Length; s++)
        {
            for (int q = 0; q < 50; q++)
            {
                scoresA[s, q] = CorrectA(seeds[s], q) ? 1 : 0;
                scoresB[s, q] = CorrectB(seeds[s], q) ? 1 : 0;
            }
        }

        var (expected, p) = ExperimentStatistics.PairedBootstrap(scoresA, scoresB);
        ExperimentRunComparison c = ExperimentRunComparer.Compare(Path.Combine(_root, "a"), "Level 4 (MAGDi)", Path.Combine(_root, "b"), "level-4-magdi");

        Assert.Equal(seeds, c.Seeds);
        Assert.Equal(50, c.Questions);
        Assert.Equal(expected.Mean, c.Difference.Mean, 12);
        Assert.Equal(expected.Low, c.Difference.Low, 12);
        Assert.Equal(expected.High, c.Difference.High, 12);
        Assert.Equal(p, c.PValue, 12);
        Assert.Equal(ExperimentStatistics.Accuracy(scoresA).Mean, c.AccuracyA, 12);
        Assert.Equal(ExperimentStatistics.Accuracy(scoresB).Mean, c.AccuracyB, 12);

        // The table formats every number as the experiment's own table.md does.
        string[] lines = ExperimentRunComparer.Markdown([c]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("| row (A) | row (B) | seeds | questions | A | B | A - B [95 % CI] | p |", lines[0]);
        string star = expected.ExcludesZeroAbove || expected.ExcludesZeroBelow ? " *" : "";
        Assert.Equal(
            $"| level-4-magdi | level-4-magdi | 1,2,3,4 | 50 | {ExperimentReportWriter.Percent(c.AccuracyA)} | {ExperimentReportWriter.Percent(c.AccuracyB)} | "
            + $"{ExperimentReportWriter.Points(expected.Mean)} [{ExperimentReportWriter.Points(expected.Low)}, {ExperimentReportWriter.Points(expected.High)}]{star} | {ExperimentReportWriter.PValue(p)} |",
            lines[2]);
    }
}
