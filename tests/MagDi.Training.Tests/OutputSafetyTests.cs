using System.Text.Json;
using MagDi.IO;
using MagDi.SafeTensors;

namespace MagDi.Training.Tests;

/// <summary>
/// What the trainer writes survives kills and full disks (issue 15, "Data loss and half-written outputs"): checkpoints
/// carry a marker and pruning touches nothing else, metrics.jsonl restarts at the resumed step, leftovers of a killed
/// run are removed and nothing else is, and a full disk at any point leaves complete outputs.
/// </summary>
public sealed class OutputSafetyTests : IDisposable
{
    private readonly string _out = TestStudent.TempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_out, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MagDiTrainerBuilder Builder(int maxSteps, int saveEvery = 0, bool resume = false)
    {
        var builder = MagDiTrainer.CreateBuilder()
            .UseStudent(TestStudent.Model(), new CharTokenizer())
            .WithTrainingGraphs(TestStudent.Graphs())
            .WithLevel(DistillationLevel.Structure)
            .WithLora(rank: 4, alpha: 8, dropout: 0.1, "q_proj", "v_proj")
            .WithLearningRate(5e-3)
            .WithSchedule(epochs: 50, warmupSteps: 0, maxSteps: maxSteps)
            .WithBatchSize(2)
            .WithSeed(11)
            .Configure(o =>
            {
                o.GcnHiddenSize = 16;
                o.SaveEverySteps = saveEvery;
            })
            .WithOutputDirectory(_out);
        return resume ? builder.ResumeFromLatestCheckpoint() : builder;
    }

    private static string[] Steps(string metricsPath) =>
        File.ReadAllLines(metricsPath).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return doc.RootElement.GetProperty("step").GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }).ToArray();

    [Fact]
    public async Task Prune_DeletesOnlyMarkedCheckpoints_NeverAUsersFolder()
    {
        Directory.CreateDirectory(Path.Combine(_out, "checkpoint-0-mine"));
        File.WriteAllText(Path.Combine(_out, "checkpoint-0-mine", "notes.txt"), "my notes");
        // A folder named like a checkpoint that MagDi did not write (no marker, no trainer state): kept, as documented.
        Directory.CreateDirectory(Path.Combine(_out, "checkpoint-000000"));
        File.WriteAllText(Path.Combine(_out, "checkpoint-000000", "notes.txt"), "also mine");

        TrainingResult result = await Builder(maxSteps: 5, saveEvery: 1).BuildAndTrainAsync();

        Assert.Equal(5, result.Steps);
        Assert.Equal("my notes", File.ReadAllText(Path.Combine(_out, "checkpoint-0-mine", "notes.txt")));
        Assert.Equal("also mine", File.ReadAllText(Path.Combine(_out, "checkpoint-000000", "notes.txt")));
        string[] checkpoints = Directory.GetDirectories(_out, "checkpoint-*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(["checkpoint-0-mine", "checkpoint-000000", "checkpoint-000004", "checkpoint-000005"], checkpoints);
        Assert.True(File.Exists(Path.Combine(_out, "checkpoint-000005", CheckpointStore.Marker)));
        Assert.True(File.Exists(Path.Combine(_out, "checkpoint-000004", CheckpointStore.Marker)));
    }

    [Fact]
    public async Task Resume_TruncatesMetricsToTheResumedStep_AndDropsATornLastLine()
    {
        await Builder(maxSteps: 3, saveEvery: 2).BuildAndTrainAsync();
        string metrics = Path.Combine(_out, "metrics.jsonl");
        string[] original = File.ReadAllLines(metrics);
        Assert.Equal(["1", "2", "3"], Steps(metrics));
        // A run killed after logging step 3 but before checkpointing it, and killed again while writing a line.
        AtomicFile.DeleteDirectory(Path.Combine(_out, "checkpoint-000003"));
        File.AppendAllText(metrics, "{\"step\":4,\"loss/tot");

        TrainingResult resumed = await Builder(maxSteps: 5, resume: true).BuildAndTrainAsync();

        Assert.Equal(5, resumed.Steps);
        Assert.Equal(["1", "2", "3", "4", "5"], Steps(metrics));
        Assert.Equal(original[..2], File.ReadAllLines(metrics)[..2]);
        Assert.EndsWith("\n", File.ReadAllText(metrics), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_RemovesWhatAKilledRunLeft_AndNothingElse()
    {
        string id = Guid.NewGuid().ToString("N");
        string[] leftovers = [$".adapter.{id}.magdi-tmp", $".tmp-checkpoint-3-{id}", $".checkpoint-000002.{id}.magdi-tmp"];
        foreach (string dir in leftovers)
        {
            Directory.CreateDirectory(Path.Combine(_out, dir));
            File.WriteAllText(Path.Combine(_out, dir, "half"), "x");
        }

        File.WriteAllText(Path.Combine(_out, $".loss-curve.png.{id}.magdi-tmp"), "half");
        string[] users = ["metrics.jsonl.tmp", "notes.tmp", ".magdi-tmp", "adapter.tmp"];
        foreach (string name in users)
        {
            File.WriteAllText(Path.Combine(_out, name), "the user's");
        }

        await Builder(maxSteps: 1).BuildAndTrainAsync();

        string[] names = Directory.EnumerateFileSystemEntries(_out).Select(Path.GetFileName).ToArray()!;
        Assert.All(users, u => Assert.Contains(u, names));
        Assert.DoesNotContain(names, n => n.Contains(id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Train_FullDiskAtManyPoints_LeavesCompleteOutputs_AndTheNextRunFinishes()
    {
        // One unlimited run measures how much a run writes; then runs that resume from it hit a full disk at spread-out
        // points of their own writing (metrics, checkpoints, the adapter), each starting from what the last one left.
        long written;
        using (var disk = AtomicFile.LimitBytesForTesting(long.MaxValue))
        {
            await Builder(maxSteps: 2, saveEvery: 1).BuildAndTrainAsync();
            written = disk.Written;
        }

        AssertComplete();
        int maxSteps = 2;
        int failures = 0;
        foreach (double fraction in new[] { 0.0, 0.1, 0.35, 0.7, 0.95 })
        {
            maxSteps++;
            using (AtomicFile.LimitBytesForTesting((long)(fraction * written)))
            {
                try
                {
                    await Builder(maxSteps, saveEvery: 1, resume: true).BuildAndTrainAsync();
                }
                catch (IOException e)
                {
                    Assert.Contains("No space left on device", e.Message);
                    failures++;
                }
            }

            AssertComplete();
        }

        Assert.True(failures >= 4, $"only {failures} of 5 runs hit the full disk");
        TrainingResult last = await Builder(maxSteps + 1, saveEvery: 1, resume: true).BuildAndTrainAsync();
        Assert.Equal(maxSteps + 1, last.Steps);
        AssertComplete();
        Assert.Equal(Enumerable.Range(1, maxSteps + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Steps(Path.Combine(_out, "metrics.jsonl")));
    }

    /// <summary>No temporary entry anywhere; the adapter and every marked checkpoint complete; metrics.jsonl whole lines.</summary>
    private void AssertComplete()
    {
        string[] temps = Directory.EnumerateFileSystemEntries(_out, "*", SearchOption.AllDirectories)
            .Where(p => AtomicFile.IsLeftoverName(Path.GetFileName(p))).ToArray();
        Assert.True(temps.Length == 0, "left behind: " + string.Join(", ", temps));

        string adapter = Path.Combine(_out, "adapter");
        if (Directory.Exists(adapter))
        {
            using JsonDocument config = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")));
            Assert.Equal(4, config.RootElement.GetProperty("r").GetInt32());
            using SafeTensorsFile weights = SafeTensorsFile.Open(Path.Combine(adapter, "adapter_model.safetensors"));
            Assert.Equal(8, weights.Tensors.Count);
        }

        foreach (string checkpoint in Directory.GetDirectories(_out, "checkpoint-*"))
        {
            Assert.True(File.Exists(Path.Combine(checkpoint, CheckpointStore.Marker)), checkpoint);
            Assert.True(new FileInfo(Path.Combine(checkpoint, "optimizer.bin")).Length > 0, checkpoint);
            Assert.True(new FileInfo(Path.Combine(checkpoint, "rng_state.bin")).Length > 0, checkpoint);
            using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json")));
            Assert.EndsWith(state.RootElement.GetProperty("step").GetInt32().ToString("D6", System.Globalization.CultureInfo.InvariantCulture), checkpoint, StringComparison.Ordinal);
            using SafeTensorsFile trainable = SafeTensorsFile.Open(Path.Combine(checkpoint, "trainable.safetensors"));
            Assert.NotEmpty(trainable.Tensors);
        }

        string metrics = Path.Combine(_out, "metrics.jsonl");
        if (File.Exists(metrics))
        {
            string text = File.ReadAllText(metrics);
            Assert.True(text.Length == 0 || text.EndsWith('\n'), "metrics.jsonl ends in a partial line");
            Assert.Equal(Steps(metrics).Distinct().Count(), Steps(metrics).Length);
        }
    }
}
