using System.Globalization;
using System.Text.Json;
using MagDi.Training.Experiments;

namespace MagDi.Cli.Tests;

/// <summary>
/// <c>magdi compare</c> and <see cref="ExperimentRunComparer"/> on experiment folders laid out as
/// <see cref="MagDiExperiment"/> writes them (<c>runs/{row}/seed-{seed}/result.json</c>, <c>all-seeds</c> for a
/// seed-independent row).
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class CompareCommandTests(CliFixture fixture)
{
    private static readonly string[] Questions = [.. Enumerable.Range(0, 40).Select(i => $"q{i:00}")];

    /// <summary>Writes one finished run whose question i is correct when <paramref name="correct"/>(i).</summary>
    private static void WriteRun(string runs, string row, string run, Func<int, bool> correct, IReadOnlyList<string>? ids = null)
    {
        string directory = Path.Combine(runs, row, run);
        Directory.CreateDirectory(directory);
        ids ??= Questions;
        var result = new
        {
            fingerprint = "test",
            row,
            seed = run.StartsWith("seed-", StringComparison.Ordinal) ? int.Parse(run[5..], CultureInfo.InvariantCulture) : (int?)null,
            training_seconds = 1.0,
            steps = 10,
            questions = ids.Select((id, i) => new { id, task = "synthetic-arithmetic", correct = correct(i), tokens = 12 }),
        };
        File.WriteAllText(Path.Combine(directory, "result.json"), JsonSerializer.Serialize(result));
    }

    /// <summary>
    /// Folder A (as the quickstart nests it, under experiment/) and B (runs/ at the top): level-1 in both over seeds 1-3
    /// (B also ran seed 4), no-teacher once for all seeds, and sit-gpt4 in A only.
    /// </summary>
    private (string A, string B) Folders()
    {
        string a = fixture.NewDirectory("compare-a"), b = fixture.NewDirectory("compare-b");
        string runsA = Path.Combine(a, "experiment", "runs"), runsB = Path.Combine(b, "runs");
        foreach (int seed in new[] { 1, 2, 3 })
        {
            WriteRun(runsA, "level-1", $"seed-{seed}", i => (i + seed) % 4 != 0);           // about 75 %
            WriteRun(runsB, "level-1", $"seed-{seed}", i => (i + seed) % 2 == 0);           // 50 %
            WriteRun(runsA, "sit-gpt4", $"seed-{seed}", i => i % 3 == 0);
        }

        WriteRun(runsB, "level-1", "seed-4", _ => true);
        WriteRun(runsA, "no-teacher", "all-seeds", i => i % 5 == 0);
        WriteRun(runsB, "no-teacher", "all-seeds", i => i % 5 == 0);
        return (a, b);
    }

    [Fact]
    public void Compare_ASeedIndependentRow_IsOneRunOnEachSide()
    {
        var (a, b) = Folders();
        ExperimentRunComparison c = ExperimentRunComparer.Compare(a, "no-teacher", b, "No teacher");
        Assert.Empty(c.Seeds);
        Assert.Equal(0, c.Difference.Mean);
        Assert.False(c.Significant);
        Assert.Equal(["level-1", "no-teacher", "sit-gpt4"], ExperimentRunComparer.Rows(a));
    }

    [Fact]
    public async Task Cli_PrintsEveryRowBothRan_AsAMarkdownTable()
    {
        var (a, b) = Folders();
        var (code, output, err) = await CliFixture.Run("compare", a, b);

        Assert.True(code == 0, err);
        string[] rows = [.. output.Split('\n').Where(line => line.StartsWith("| ", StringComparison.Ordinal)).Skip(1)];
        Assert.Equal(2, rows.Length);                                                       // sit-gpt4 ran in A only
        Assert.StartsWith("| level-1 | level-1 | 1,2,3 | 40 | 75.0 | 50.0 | +25.0 [", rows[0], StringComparison.Ordinal);
        Assert.Contains("] * |", rows[0], StringComparison.Ordinal);
        Assert.StartsWith("| no-teacher | no-teacher | all (one run) | 40 | 20.0 | 20.0 | 0.0 [0.0, 0.0] | 1.000 |", rows[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_TwoRowsOfOneFolder_AndExplicitSeeds()
    {
        var (a, _) = Folders();
        var (code, output, err) = await CliFixture.Run("compare", a, a, "--rows", "level-1:sit-gpt4", "--seeds", "2,3");
        Assert.True(code == 0, err);
        Assert.Contains("| level-1 | sit-gpt4 | 2,3 | 40 |", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_AMissingRunOrSeed_IsExit2NamingTheFile()
    {
        var (a, b) = Folders();
        var (code, output, err) = await CliFixture.Run("compare", a, b, "--rows", "sit-gpt4");
        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains(Path.Combine("runs", "sit-gpt4"), err, StringComparison.Ordinal);
        Assert.Contains("no runs of row 'sit-gpt4'", err, StringComparison.Ordinal);

        (code, output, err) = await CliFixture.Run("compare", a, b, "--rows", "level-1", "--seeds", "1,4");
        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);                                                 // nothing half-printed
        Assert.Contains(Path.Combine("level-1", "seed-4", "result.json"), err, StringComparison.Ordinal);
        Assert.Contains("its seeds: 1, 2, 3", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_RunsOnDifferentQuestions_OrADamagedResult_AreExit2NamingTheFiles()
    {
        var (a, b) = Folders();
        WriteRun(Path.Combine(b, "runs"), "level-1", "seed-2", _ => true, [.. Questions.Reverse()]);
        var (code, _, err) = await CliFixture.Run("compare", a, b, "--rows", "level-1");
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine("level-1", "seed-2", "result.json"), err, StringComparison.Ordinal);
        Assert.Contains("same test questions", err, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(b, "runs", "level-1", "seed-2", "result.json"), "{\"questions\": [");
        (code, _, err) = await CliFixture.Run("compare", a, b, "--rows", "level-1");
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine("level-1", "seed-2", "result.json"), err, StringComparison.Ordinal);
        Assert.Contains("not the result of a finished run", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_SeedsEvaluatedOnDifferentQuestionOrders_IsAnErrorNamingTheFileAndQuestion()
    {
        // A and B agree seed by seed, but seed 2 (on both sides) holds the questions in another order: the bootstrap
        // resamples question j of every seed together, so it would pair different questions across seeds.
        var (a, b) = Folders();
        string[] reordered = [.. Questions.Reverse()];
        WriteRun(Path.Combine(a, "experiment", "runs"), "level-1", "seed-2", i => i % 2 == 0, reordered);
        WriteRun(Path.Combine(b, "runs"), "level-1", "seed-2", i => i % 3 == 0, reordered);

        var error = Assert.Throws<InvalidDataException>(() => ExperimentRunComparer.Compare(a, "level-1", b, "level-1"));
        Assert.Contains(Path.Combine("level-1", "seed-2", "result.json"), error.Message, StringComparison.Ordinal);
        Assert.Contains("question 1 has id 'q39' where the run of seed 1 has 'q00'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_BadArguments_AreExit2()
    {
        var (a, _) = Folders();
        string missing = Path.Combine(fixture.Root, "no-such-folder");
        Assert.Equal(2, (await CliFixture.Run("compare", a, missing)).Code);
        Assert.Equal(2, (await CliFixture.Run("compare", a, a, "--seeds", "1,two")).Code);
        Assert.Equal(2, (await CliFixture.Run("compare", a, a, "--rows", "level-1:")).Code);
        var (code, _, err) = await CliFixture.Run("compare", a, fixture.Root);
        Assert.Equal(2, code);
        Assert.Contains("is not an experiment output folder", err, StringComparison.Ordinal);
    }
}
