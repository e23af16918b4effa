using System.Globalization;
using System.Text.Json;
using MagDi.Graphs;
using MagDi.Modeling;
using MagDi.Tasks;
using MagDi.Tokenization;
using MagDi.Training.Experiments;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

/// <summary>A tiny base checkpoint (BPE tokenizer + random llama) on disk, shared by the experiment tests.</summary>
public sealed class ExperimentFixture : IDisposable
{
    public ExperimentFixture()
    {
        Root = TestStudent.TempDirectory();
        Graphs = SampleMags.Arithmetic(12);
        BaseDirectory = Path.Combine(Root, "base");
        var corpus = Graphs.SelectMany(g => g.Nodes.Select(n => g.Question + " " + n.Reasoning + " So the answer is " + n.Answer)).ToList();
        ITextTokenizer tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 300, SplitDigits = true }).Train(corpus, BaseDirectory);
        SaveModel(BaseDirectory, tokenizer, tokenizer.VocabularySize);

        // The same tokenizer next to a model with too small an embedding: they do not belong together.
        MismatchedDirectory = Path.Combine(Root, "mismatched");
        new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 300, SplitDigits = true }).Train(corpus, MismatchedDirectory);
        SaveModel(MismatchedDirectory, tokenizer, tokenizer.VocabularySize - 20);
        Test = Enumerable.Range(0, 6)
            .Select(i => new Question($"t{i}", "gsm8k", $"Ann has {3 + i} pens. She buys {2 + i} more. How many pens?", (5 + (2 * i)).ToString(CultureInfo.InvariantCulture)))
            .ToList();
    }

    public string Root { get; }

    public string BaseDirectory { get; }

    public string MismatchedDirectory { get; }

    public List<InteractionGraph> Graphs { get; }

    public List<Question> Test { get; }

    /// <summary>The experiment the tests vary: No teacher, SiT (alpha), Level 1 and Level 3 over two seeds, three steps each.</summary>
    public MagDiExperimentBuilder Builder(string output) => MagDiExperiment.CreateBuilder()
        .UseBaseModel(BaseDirectory, "cpu", ModelDType.F32)
        .WithTrainingGraphs(Graphs)
        .WithTestQuestions(Test)
        .WithSeeds(1, 2)
        .AddNoTeacherRow()
        .AddSingleTeacherRows("alpha")
        .AddLevelRow(DistillationLevel.RoundZero)
        .AddLevelRow(DistillationLevel.AllNodes)
        .ConfigureTrainer(t => t.WithLora(rank: 4, alpha: 8).WithSchedule(epochs: 100, warmupSteps: 1, maxSteps: 3).WithBatchSize(4).WithLearningRate(1e-3))
        .WithEvaluation(new EvaluationOptions { MaxNewTokens = 6, BatchSize = 6 })
        .WithOutputDirectory(output);

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    private static void SaveModel(string directory, ITextTokenizer tokenizer, int vocab)
    {
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = vocab,
            HiddenSize = 32,
            IntermediateSize = 64,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 512,
            RmsNormEps = 1e-5,
            BosTokenId = tokenizer.Special.BosId,
            PadTokenId = tokenizer.Special.PadId,
        };
        config.SetEosTokenId(tokenizer.Special.EosId!.Value);
        using var model = CausalLanguageModel.CreateRandom(config, seed: 5);
        model.SavePretrained(directory);
    }
}

public sealed class MagDiExperimentTests(ExperimentFixture fixture) : IClassFixture<ExperimentFixture>
{
    [Fact]
    public async Task Run_ReportsEveryRowOverEverySeed_FromTheRunsOnDisk_AndARestartReusesThem()
    {
        string output = Path.Combine(fixture.Root, "run-" + Guid.NewGuid().ToString("N")[..8]);
        var progress = new List<ExperimentProgress>();
        ExperimentReport report = await fixture.Builder(output).UseProgress(new SyncProgress<ExperimentProgress>(progress.Add)).Build().RunAsync();

        Assert.Equal(["No teacher", "SiT (alpha)", "Level 1", "Level 3"], report.Rows.Select(r => r.Name));
        Assert.Equal([1, 2], report.Seeds);
        Assert.Equal("SiT (alpha)", report.BestSingleTeacher);

        // Every number of the report follows from the per-question outcomes each run wrote.
        foreach (ExperimentRowResult row in report.Rows)
        {
            var perSeed = new List<double>();
            foreach (int seed in report.Seeds)
            {
                string run = row.Kind == ExperimentRowKind.NoTeacher ? "all-seeds" : $"seed-{seed}";
                using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "runs", MagDiExperiment.Slug(row.Name), run, "result.json")));
                var questions = json.RootElement.GetProperty("questions").EnumerateArray().ToList();
                Assert.Equal(fixture.Test.Count, questions.Count);
                perSeed.Add(questions.Count(q => q.GetProperty("correct").GetBoolean()) / (double)questions.Count);
            }

            Assert.Equal(perSeed, row.PerSeed);
            Assert.Equal(perSeed.Average(), row.Accuracy.Mean, 12);
            Assert.True(row.Accuracy.Low <= row.Accuracy.Mean && row.Accuracy.Mean <= row.Accuracy.High, row.Name);
        }

        // Trained rows are LoRA adapters in the PEFT layout; the base student is evaluated once (greedy: seed-independent).
        Assert.True(File.Exists(Path.Combine(output, "runs", "level-3", "seed-2", "train", "adapter", "adapter_config.json")));
        Assert.False(Directory.Exists(Path.Combine(output, "runs", "no-teacher", "seed-1")));
        Assert.Equal(report.Rows[0].PerSeed[0], report.Rows[0].PerSeed[1]);

        // Comparisons are paired against the references that exist, claims only where both rows exist.
        Assert.Equal(["best_sit", "level_1", "no_teacher"], report.Rows[3].Comparisons.Keys.Order());
        Assert.Equal(["best_sit", "no_teacher"], report.Rows[2].Comparisons.Keys.Order());
        Assert.Contains(report.Claims, c => c.Claim == "Multi-teacher (Level 1) > best SiT" && c.Reference == "SiT (alpha)");
        Assert.DoesNotContain(report.Claims, c => c.Claim.Contains("Level 4", StringComparison.Ordinal));

        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "results.json"))))
        {
            JsonElement root = results.RootElement;
            Assert.Equal(2, root.GetProperty("seeds").GetArrayLength());
            JsonElement level3 = root.GetProperty("rows")[3];
            Assert.Equal("Level 3", level3.GetProperty("name").GetString());
            Assert.Equal(report.Rows[3].Accuracy.Mean, level3.GetProperty("mean").GetDouble(), 12);
            Assert.Equal(report.Rows[3].Accuracy.Low, level3.GetProperty("ci95")[0].GetDouble(), 12);
            Assert.Equal(2, level3.GetProperty("per_seed").GetArrayLength());
            Assert.True(level3.GetProperty("comparisons").GetProperty("level_1").TryGetProperty("p_value", out _));
        }

        Assert.Contains("| Level 3 |", File.ReadAllText(Path.Combine(output, "table.md")));
        Assert.Equal(8, progress.Count(p => p.Stage == ExperimentStage.Finished)); // 4 rows x 2 seeds (the base evaluated once, shared)
        Assert.DoesNotContain(progress, p => p.Reused);

        // A restart reuses every finished run and reports the same numbers.
        var again = new List<ExperimentProgress>();
        ExperimentReport second = await fixture.Builder(output).UseProgress(new SyncProgress<ExperimentProgress>(again.Add)).Build().RunAsync();
        Assert.All(again.Where(p => p.Stage == ExperimentStage.Finished), p => Assert.True(p.Reused, p.Row));
        Assert.DoesNotContain(again, p => p.Stage == ExperimentStage.Training);
        Assert.Equal(report.Rows.Select(r => r.PerSeed.ToArray()), second.Rows.Select(r => r.PerSeed.ToArray()));
    }

    [Fact]
    public async Task Resume_AfterCancellation_RunsOnlyWhatWasNotFinished()
    {
        string output = Path.Combine(fixture.Root, "cancel-" + Guid.NewGuid().ToString("N")[..8]);
        using var cts = new CancellationTokenSource();
        var first = new List<ExperimentProgress>();
        var builder = fixture.Builder(output).UseProgress(new SyncProgress<ExperimentProgress>(p =>
        {
            first.Add(p);
            if (p.Stage == ExperimentStage.Finished && p.Row == "SiT (alpha)")
            {
                cts.Cancel(); // stop after two finished runs
            }
        }));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => builder.Build().RunAsync(cts.Token));

        var second = new List<ExperimentProgress>();
        await fixture.Builder(output).UseProgress(new SyncProgress<ExperimentProgress>(second.Add)).Build().RunAsync();

        var reused = second.Where(p => p.Stage == ExperimentStage.Finished && p.Reused).Select(p => (p.Row, p.Seed)).ToList();
        // The base's evaluation is shared by both seeds, so seed 2's No teacher reuses it too.
        Assert.Equal([("No teacher", 1), ("SiT (alpha)", 1), ("No teacher", 2)], reused);
        Assert.Equal(5, second.Count(p => p.Stage == ExperimentStage.Finished && !p.Reused));
    }

    [Fact]
    public async Task Run_FolderOfAnotherExperiment_IsRefusedNamingTheFile()
    {
        string output = Path.Combine(fixture.Root, "other-" + Guid.NewGuid().ToString("N")[..8]);
        await fixture.Builder(output).WithSeeds(1).Build().RunAsync();

        // Same folder, another learning rate: the finished runs are not this experiment's.
        var changed = fixture.Builder(output).WithSeeds(1).ConfigureTrainer(t => t.WithLearningRate(5e-4)).Build();
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => changed.RunAsync());

        Assert.Contains("result.json", ex.Message, StringComparison.Ordinal);
        Assert.Contains("other settings", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ZeroSeeds_UnknownTeacher_RowWithoutNodes_AndAMismatchedBase_AreEachNamed()
    {
        // A teacher that is never right in round 0 gives its SiT row nothing to learn from.
        var graphs = fixture.Graphs.Select(g =>
        {
            var b = InteractionGraph.CreateBuilder().WithId(g.Id).WithTask(g.Task).WithQuestion(g.Question).WithGoldAnswer(g.GoldAnswer);
            foreach (string agent in g.Agents.Append("delta"))
            {
                b.AddAgent(agent);
            }

            foreach (MagNode n in g.Nodes)
            {
                b.AddNode(n.Agent, n.Round, n.Reasoning, n.Answer, n.Confidence);
            }

            for (int r = 0; r < g.RoundCount; r++)
            {
                b.AddNode("delta", r, "1 + 1 = 3.", "3", 0.5);
            }

            return b.Build();
        }).ToList();

        var ex = Assert.Throws<OptionsValidationException>(() => MagDiExperiment.CreateBuilder()
            .UseBaseModel(fixture.MismatchedDirectory, "cpu", ModelDType.F32)
            .WithTrainingGraphs(graphs)
            .WithTestQuestions(fixture.Test)
            .WithSeedCount(0)
            .AddSingleTeacherRows("zeta", "delta")
            .WithOutputDirectory(Path.Combine(fixture.Root, "never"))
            .Build());

        string message = string.Join("\n", ex.Failures);
        Assert.Contains("At least one seed is required", message, StringComparison.Ordinal);
        Assert.Contains("no training MAG has the teacher 'zeta'", message, StringComparison.Ordinal);
        Assert.Contains("Row 'SiT (delta)': the training MAGs have no node this row trains on", message, StringComparison.Ordinal);
        Assert.Contains("tokens but its config.json vocab_size is", message, StringComparison.Ordinal);
        Assert.Equal(4, ex.Failures.Count());
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "never")));
    }

    [Fact]
    public void Build_DuplicateSeedsRowsAndTestIds_AndMissingParts_AreListedTogether()
    {
        var test = fixture.Test.Append(fixture.Test[0]).ToList();
        var ex = Assert.Throws<OptionsValidationException>(() => MagDiExperiment.CreateBuilder()
            .UseBaseModel(Path.Combine(fixture.Root, "missing-base"))
            .WithTestQuestions(test)
            .WithSeeds(3, 3)
            .AddLevelRow(DistillationLevel.RoundZero)
            .AddLevelRow(DistillationLevel.RoundZero)
            .Build());

        string message = string.Join("\n", ex.Failures);
        Assert.Contains("Seeds must be distinct", message, StringComparison.Ordinal);
        Assert.Contains("'Level 1' is used more than once", message, StringComparison.Ordinal);
        Assert.Contains("'t0' appears more than once", message, StringComparison.Ordinal);
        Assert.Contains("An output folder is required", message, StringComparison.Ordinal);
        Assert.Contains("missing-base' does not exist", message, StringComparison.Ordinal);
        Assert.Contains("Trained rows need training MAGs", message, StringComparison.Ordinal);
    }
}
