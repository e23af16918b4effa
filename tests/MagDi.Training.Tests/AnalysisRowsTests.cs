using System.Text.Json;
using MagDi.Graphs;
using MagDi.Training.Experiments;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

/// <summary>
/// The paper's analyses as experiment rows (DSS-MT, self-consistency@k, training-set size, edge patterns), each trained and
/// evaluated end to end on the embedded synthetic benchmark (shipped base student, simulated teachers) with a tiny budget.
/// </summary>
public sealed class AnalysisRowsTests : IDisposable
{
    private readonly string _root = TestStudent.TempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static SyntheticExperimentOptions Options() => new()
    {
        TrainingQuestions = 8,
        TestQuestions = 3,
        Steps = 2,
        MaxNewTokens = 24,
        PrebuiltBaseModels = Path.Combine(Machine.RepositoryRoot(), "samples", "Shared", "synthetic-base"),
    };

    [Fact]
    public async Task EveryAnalysisRow_TrainsAndEvaluates_AndTheDefaultRowsAreUnchanged()
    {
        SyntheticExperimentOptions options = Options();
        SyntheticExperimentData data = await SyntheticExperiment.PrepareAsync(Path.Combine(_root, "setup"), options);

        // The quickstart's rows: no analysis row unless asked for.
        MagDiExperiment plain = SyntheticExperiment.CreateBuilder(data, options).WithSeeds(1).WithOutputDirectory(Path.Combine(_root, "plain")).Build();
        Assert.DoesNotContain(plain.RowNames, n => n.Contains("SC@", StringComparison.Ordinal) || n.Contains("DSS", StringComparison.Ordinal) || n.Contains(", ", StringComparison.Ordinal));
        // Every trained row learns from reasoning cleaned as the release cleans it, unless the options say otherwise.
        Assert.All(plain.RowOptions.Values, o => Assert.True(o.StripAgreementSentences));
        options.StripAgreementSentences = false;
        MagDiExperiment kept = SyntheticExperiment.CreateBuilder(data, options).WithSeeds(1).WithOutputDirectory(Path.Combine(_root, "kept")).Build();
        Assert.All(kept.RowOptions.Values, o => Assert.False(o.StripAgreementSentences));
        Assert.Equal(plain.RowOptions.Count, kept.RowOptions.Count);

        string output = Path.Combine(_root, "analyses");
        ExperimentReport report = await MagDiExperiment.CreateBuilder()
            .UseBaseModel(data.BaseModelDirectory, device: "cpu", dtype: ModelDType.F32)
            .WithTrainingGraphs(data.TrainingGraphs)
            .WithTestQuestions(data.TestQuestions)
            .WithSeeds(1)
            .AddLevelRow(DistillationLevel.Structure)
            .AddStepByStepRow()
            .AddSelfConsistencyRows(1, 3)
            .AddTrainingSizeRows(4)
            .AddInteractionPatternRows(InteractionPattern.Undirected, InteractionPattern.FullyConnected)
            .ConfigureTrainer(t => t.WithLora(rank: 4, alpha: 8).WithSchedule(epochs: 100, warmupSteps: 1, maxSteps: 2).WithBatchSize(4).WithLearningRate(1e-2))
            .WithEvaluation(new EvaluationOptions { MaxNewTokens = 24, BatchSize = 8 })
            .WithOutputDirectory(output)
            .Build()
            .RunAsync();

        string[] teachers = [.. data.TrainingGraphs.SelectMany(g => g.Agents).Distinct()];
        string[] expected =
        [
            "Level 4 (MAGDi)", "DSS-MT",
            "No teacher, SC@1", .. teachers.Select(t => $"SiT ({t}), SC@1"), "Level 4 (MAGDi), SC@1",
            "No teacher, SC@3", .. teachers.Select(t => $"SiT ({t}), SC@3"), "Level 4 (MAGDi), SC@3",
            "Level 4 (MAGDi), 4 MAGs", "Level 4 (MAGDi), undirected edges", "Level 4 (MAGDi), fully-connected edges",
        ];
        Assert.Equal(expected, report.Rows.Select(r => r.Name));
        Assert.Equal(ExperimentRowKind.Baseline, report.Rows.Single(r => r.Name == "DSS-MT").Kind);
        Assert.All(report.Rows.Skip(2), r => Assert.Equal(ExperimentRowKind.Analysis, r.Kind));
        Assert.Contains(report.Claims, c => c.Claim == "MAGDi (Level 4) > DSS-MT");

        foreach (ExperimentRowResult row in report.Rows)
        {
            string slug = MagDiExperiment.Slug(row.Name);
            bool trains = !row.Name.StartsWith("No teacher", StringComparison.Ordinal);
            string run = Path.Combine(output, "runs", slug, "seed-1");
            Assert.True(File.Exists(Path.Combine(run, "result.json")), row.Name);
            bool sc = row.Name.Contains(", SC@", StringComparison.Ordinal);
            Assert.Equal(trains && !sc, File.Exists(Path.Combine(run, "train", "adapter", "adapter_config.json")));
            using var predictions = File.OpenText(Path.Combine(run, "eval", "synthetic-arithmetic", "predictions.jsonl"));
            Assert.Equal(data.TestQuestions.Count, (await predictions.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }

        // The SC@1 and SC@3 rows of one student share its training: trained once, 2 steps, then loaded.
        string shared = Path.Combine(output, "runs", MagDiExperiment.Slug("Level 4 (MAGDi), SC"), "seed-1", "train");
        Assert.True(File.Exists(Path.Combine(shared, "adapter", "adapter_config.json")));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(shared, "metrics.jsonl")).Length);
        foreach (string k in new[] { "1", "3" })
        {
            using var sc = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "runs", MagDiExperiment.Slug("Level 4 (MAGDi), SC@" + k), "seed-1", "result.json")));
            Assert.Equal(2, sc.RootElement.GetProperty("steps").GetInt32());
        }

        // DSS-MT trained its two tasks and was asked with the label prefix.
        string dss = Path.Combine(output, "runs", "dss-mt", "seed-1");
        string metrics = File.ReadAllLines(Path.Combine(dss, "train", "metrics.jsonl"))[0];
        Assert.Contains("loss/label", metrics);
        Assert.Contains("loss/rationale", metrics);

        // The size row trained on 4 MAGs; the edge rows on every MAG.
        using var size = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "runs", MagDiExperiment.Slug("Level 4 (MAGDi), 4 MAGs"), "seed-1", "result.json")));
        Assert.Equal(2, size.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public async Task SelfConsistencyRows_ReportEachGain_AndTheTable5Claims_AsPairedDifferencesOfTheRunsAnswers()
    {
        SyntheticExperimentOptions options = Options();
        options.TestQuestions = 24;
        SyntheticExperimentData data = await SyntheticExperiment.PrepareAsync(Path.Combine(_root, "setup"), options);
        string output = Path.Combine(_root, "sc");
        int[] seeds = [1, 2];
        ExperimentReport report = await MagDiExperiment.CreateBuilder()
            .UseBaseModel(data.BaseModelDirectory, device: "cpu", dtype: ModelDType.F32)
            .WithTrainingGraphs(data.TrainingGraphs)
            .WithTestQuestions(data.TestQuestions)
            .WithTeacherDiscussions(data.TestGraphs)
            .WithSeeds(seeds)
            .AddNoTeacherRow()
            .AddSingleTeacherRows()
            .AddLevelRow(DistillationLevel.Structure)
            .AddSelfConsistencyRows(1, 4)
            .ConfigureTrainer(t => t.WithLora(rank: 4, alpha: 8).WithSchedule(epochs: 100, warmupSteps: 1, maxSteps: 2).WithBatchSize(4).WithLearningRate(1e-2))
            .WithEvaluation(new EvaluationOptions { MaxNewTokens = 24, BatchSize = 32 })
            .WithOutputDirectory(output)
            .Build()
            .RunAsync();

        // Each question's correctness, per seed, read back from the runs' own result files.
        double[,] Scores(string row)
        {
            var matrix = new double[seeds.Length, data.TestQuestions.Count];
            for (int s = 0; s < seeds.Length; s++)
            {
                string folder = Path.Combine(output, "runs", MagDiExperiment.Slug(row), $"seed-{seeds[s]}");
                using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "result.json")));
                var correct = result.RootElement.GetProperty("questions").EnumerateArray()
                    .ToDictionary(q => q.GetProperty("id").GetString()!, q => q.GetProperty("correct").GetBoolean());
                for (int q = 0; q < data.TestQuestions.Count; q++)
                {
                    matrix[s, q] = correct[data.TestQuestions[q].Id] ? 1 : 0;
                }
            }

            return matrix;
        }

        double Mean(double[,] m) => m.Cast<double>().Average();
        double Gain(string student) => Mean(Scores($"{student}, SC@4")) - Mean(Scores($"{student}, SC@1"));

        // Every SC@4 row is compared with the same student's SC@1 row; the SC@1 rows with nothing.
        string bestSit = report.BestSingleTeacher!;
        string[] students = ["No teacher", .. data.TrainingGraphs.SelectMany(g => g.Agents).Distinct().Select(t => $"SiT ({t})"), "Level 4 (MAGDi)"];
        foreach (string student in students)
        {
            ExperimentRowResult sc4 = report.Rows.Single(r => r.Name == $"{student}, SC@4");
            ExperimentComparison gain = sc4.Comparisons["fewest_samples"];
            Assert.Equal($"{student}, SC@1", gain.Reference);
            Assert.Equal(Gain(student), gain.Difference.Mean, 12);
            Assert.InRange(gain.Difference.Mean, gain.Difference.Low, gain.Difference.High);
            Assert.False(report.Rows.Single(r => r.Name == $"{student}, SC@1").Comparisons.ContainsKey("fewest_samples"));
        }

        // Table 5's claims: MAGDi's gain against the base's and the best SiT's, then SC@4 against SC@4.
        ExperimentClaim overBase = report.Claims.Single(c => c.Claim == "Self-consistency gain (SC@1 to SC@4): MAGDi > No teacher");
        Assert.Equal("Level 4 (MAGDi), SC@4 - Level 4 (MAGDi), SC@1", overBase.Row);
        Assert.Equal("No teacher, SC@4 - No teacher, SC@1", overBase.Reference);
        Assert.Equal(Gain("Level 4 (MAGDi)") - Gain("No teacher"), overBase.Comparison.Difference.Mean, 12);
        Assert.Equal(overBase.Comparison.Difference.Mean > 0, overBase.Held);
        ExperimentClaim overSit = report.Claims.Single(c => c.Claim == "Self-consistency gain (SC@1 to SC@4): MAGDi > best SiT");
        Assert.Equal($"{bestSit}, SC@4 - {bestSit}, SC@1", overSit.Reference);
        Assert.Equal(Gain("Level 4 (MAGDi)") - Gain(bestSit), overSit.Comparison.Difference.Mean, 12);
        ExperimentClaim atMost = report.Claims.Single(c => c.Claim == "MAGDi (Level 4) > best SiT at SC@4");
        Assert.Equal((Mean(Scores("Level 4 (MAGDi), SC@4")) - Mean(Scores($"{bestSit}, SC@4"))), atMost.Comparison.Difference.Mean, 12);
        // The checks above can tell a gain from its reverse only where the answers moved.
        Assert.Contains(students, s => Gain(s) != 0);
        Assert.NotEqual(0, overBase.Comparison.Difference.Mean);

        // Answer diversity, recomputed from the samples each SC@4 run wrote (samples.jsonl: every sample's answer).
        foreach (string student in students)
        {
            double distinct = 0, any = 0, correctShare = 0;
            foreach (int seed in seeds)
            {
                string file = Directory.GetFiles(Path.Combine(output, "runs", MagDiExperiment.Slug($"{student}, SC@4"), $"seed-{seed}", "eval"), "samples.jsonl", SearchOption.AllDirectories).Single();
                var gold = data.TestQuestions.ToDictionary(q => q.Id, q => q.GoldAnswer);
                MagDi.Tasks.ReasoningTask task = MagDi.Tasks.ReasoningTasks.Get(data.TestQuestions[0].Task);
                foreach (string line in File.ReadLines(file))
                {
                    using var sample = JsonDocument.Parse(line);
                    string?[] answers = [.. sample.RootElement.GetProperty("answers").EnumerateArray().Select(a => a.GetString())];
                    Assert.Equal(4, answers.Length);
                    Assert.Equal(4, sample.RootElement.GetProperty("outputs").GetArrayLength());
                    string id = sample.RootElement.GetProperty("id").GetString()!;
                    distinct += answers.Where(a => a is not null).Select(a => task.Normalize(a) ?? a).Distinct().Count();
                    int right = answers.Count(a => task.IsCorrect(a, gold[id]));
                    any += right > 0 ? 1 : 0;
                    correctShare += right / 4.0;
                }
            }

            int n = seeds.Length * data.TestQuestions.Count;
            ExperimentDiversity diversity = report.Rows.Single(r => r.Name == $"{student}, SC@4").Diversity!;
            Assert.Equal(4, diversity.Samples);
            Assert.Equal(distinct / n, diversity.DistinctAnswers.Mean, 12);
            Assert.Equal(any / n, diversity.AnyCorrect.Mean, 12);
            Assert.Equal(correctShare / n, diversity.SampleAccuracy.Mean, 12);
            Assert.Null(report.Rows.Single(r => r.Name == $"{student}, SC@1").Diversity);
        }

        Assert.Contains(report.Rows, r => r.Diversity is { DistinctAnswers.Mean: > 1 });

        string table = File.ReadAllText(Path.Combine(output, "table.md"));
        Assert.Contains("| Δ vs SC@1 (same student) |", table);
        Assert.Contains("| Row | Samples | Distinct answers per question | Any sample correct % | Samples correct % | Vote correct % |", table);
        // The teachers' token cost is compared with one distilled student answering once, not with ten samples.
        double oneAnswer = report.Rows.Where(r => r.Kind is ExperimentRowKind.SingleTeacher or ExperimentRowKind.Level).Average(r => r.AverageGeneratedTokens);
        Assert.Contains(FormattableString.Invariant($"({report.Teachers!.AverageTokens / oneAnswer:F1}x what a distilled student generates on average)"), table);
        Assert.Contains("Self-consistency gain (SC@1 to SC@4): MAGDi > best SiT", table);
    }

    [Fact]
    public void Build_WithATrainingSizeLargerThanTheMags_NamesIt()
    {
        var error = Assert.Throws<OptionsValidationException>(() => MagDiExperiment.CreateBuilder()
            .WithTrainingGraphs(SampleMags.Arithmetic(3))
            .WithSeeds(1)
            .AddTrainingSizeRows(5)
            .AddSelfConsistencyRows(0)
            .WithOutputDirectory(_root)
            .Build());

        Assert.Contains("Training-size row of 5 MAGs", error.Message);
        Assert.Contains("Self-consistency sample counts must be at least 1", error.Message);
    }
}
