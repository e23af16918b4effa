using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using MagDi.IO;
using MagDi.SafeTensors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>Where the loop is, saved with every checkpoint.</summary>
internal sealed class TrainerState
{
    [JsonPropertyName("step")]
    public int Step { get; set; }

    [JsonPropertyName("epoch")]
    public int Epoch { get; set; }

    /// <summary>Micro-batches of <see cref="Epoch"/> already consumed.</summary>
    [JsonPropertyName("micro_batch")]
    public int MicroBatch { get; set; }

    [JsonPropertyName("total_steps")]
    public int TotalSteps { get; set; }

    [JsonPropertyName("seed")]
    public int Seed { get; set; }

    [JsonPropertyName("level")]
    public string Level { get; set; } = string.Empty;

    [JsonPropertyName("history")]
    public List<Dictionary<string, double>> History { get; set; } = [];
}

/// <summary>
/// Writes and reads checkpoints: trainable weights (adapter or full model, plus the scorer and GCN heads), optimizer
/// state, RNG state and loop position. A checkpoint is written into a temporary folder and takes its place in one step
/// (<see cref="AtomicFile.WriteDirectory"/>), so a kill or a full disk never leaves a half-written checkpoint. Every
/// checkpoint MagDi writes carries a marker file (<see cref="Marker"/>); pruning keeps the newest <c>keep</c> of those
/// and never touches a folder without the marker, whatever its name.
/// </summary>
internal static partial class CheckpointStore
{
    private const string Prefix = "checkpoint-";

    /// <summary>The file that marks a folder as a checkpoint MagDi wrote (and so may prune).</summary>
    internal const string Marker = ".magdi-checkpoint";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string Save(
        string outputDirectory,
        TrainerState state,
        IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        OptimizerHelper optimizer,
        int keep)
    {
        string final = Path.Combine(outputDirectory, Prefix + state.Step.ToString("D6", CultureInfo.InvariantCulture));
        AtomicFile.WriteDirectory(final, temp =>
        {
            // The CPU copies of the weights live only until they are written.
            using (NewDisposeScope())
            {
                SafeTensorsFile.Save(
                    Path.Combine(temp, "trainable.safetensors"),
                    trainable.Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Parameter.detach().cpu())));
            }

            AtomicFile.Write(Path.Combine(temp, "optimizer.bin"), stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(writer);
            });

            using (Tensor rng = random.get_rng_state())
            {
                AtomicFile.WriteAllBytes(Path.Combine(temp, "rng_state.bin"), rng.data<byte>().ToArray());
            }

            AtomicFile.WriteAllText(Path.Combine(temp, "trainer_state.json"), JsonSerializer.Serialize(state, Json));
            AtomicFile.WriteAllText(Path.Combine(temp, Marker), "A checkpoint written by MagDi; MagDi may delete this folder when it prunes old checkpoints.\n");
        });

        Prune(outputDirectory, keep);
        return final;
    }

    /// <summary>
    /// The newest checkpoint to resume from: a <c>checkpoint-NNNNNN</c> folder with <c>trainer_state.json</c>, by step.
    /// Checkpoints of MagDi versions before the marker are resumed from too (reading deletes nothing).
    /// </summary>
    public static string? Latest(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory))
        {
            return null;
        }

        return Checkpoints(outputDirectory)
            .Where(c => File.Exists(Path.Combine(c.Path, "trainer_state.json")))
            .Select(c => c.Path)
            .LastOrDefault();
    }

    public static TrainerState Load(
        string checkpoint,
        IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        OptimizerHelper optimizer)
    {
        // Every file is checked before TorchSharp or libtorch sees it; errors name the file (CheckpointFiles).
        TrainerState state = CheckpointFiles.ReadTrainerState(Path.Combine(checkpoint, "trainer_state.json"));
        byte[] rng = CheckpointFiles.ReadRngState(Path.Combine(checkpoint, "rng_state.bin"));

        string weights = Path.Combine(checkpoint, "trainable.safetensors");
        using (SafeTensorsFile file = SafeTensorsFile.Open(weights))
        {
            var missing = trainable.Where(p => !file.Tensors.ContainsKey(p.Name)).Select(p => p.Name).ToList();
            var expected = trainable.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            var unexpected = file.Tensors.Keys.Where(k => !expected.Contains(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                throw new InvalidDataException(
                    $"Checkpoint '{weights}' does not match this run's trainable weights (was it written with other options?): " +
                    $"missing [{string.Join(", ", missing.Take(8))}], unexpected [{string.Join(", ", unexpected.Take(8))}].");
            }

            using (no_grad())
            {
                foreach (var (name, parameter) in trainable)
                {
                    file.ReadInto(name, parameter);
                }
            }
        }

        CheckpointFiles.LoadOptimizer(Path.Combine(checkpoint, "optimizer.bin"), optimizer);
        using (Tensor rngState = tensor(rng, dtype: ScalarType.Byte))
        {
            random.set_rng_state(rngState);
        }

        return state;
    }

    /// <summary>
    /// Deletes all but the newest <paramref name="keep"/> checkpoints that carry <see cref="Marker"/>. Folders without it
    /// (a user's <c>checkpoint-0-mine/</c>, or checkpoints of MagDi versions before the marker) are never deleted.
    /// </summary>
    internal static void Prune(string outputDirectory, int keep)
    {
        var marked = Checkpoints(outputDirectory).Where(c => File.Exists(Path.Combine(c.Path, Marker))).ToList();
        foreach (var (path, _) in marked.Take(Math.Max(0, marked.Count - keep)))
        {
            AtomicFile.DeleteDirectory(path);
        }
    }

    /// <summary>Folders named exactly <c>checkpoint-&lt;step&gt;</c>, oldest first by step.</summary>
    private static IEnumerable<(string Path, long Step)> Checkpoints(string outputDirectory) =>
        Directory.EnumerateDirectories(outputDirectory, Prefix + "*")
            .Select(d => (Path: d, Match: CheckpointName().Match(System.IO.Path.GetFileName(d))))
            .Where(c => c.Match.Success && long.TryParse(c.Match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(c => (c.Path, Step: long.Parse(c.Match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(c => c.Step)
            .ThenBy(c => c.Path, StringComparer.Ordinal);

    [GeneratedRegex("^checkpoint-([0-9]{1,18})$", RegexOptions.CultureInvariant)]
    private static partial Regex CheckpointName();
}
