using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
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
/// state, RNG state and loop position. A checkpoint is written into a temporary folder and renamed into place, so a crash
/// never leaves a half-written checkpoint; only the newest <c>keep</c> are kept.
/// </summary>
internal static class CheckpointStore
{
    private const string Prefix = "checkpoint-";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string Save(
        string outputDirectory,
        TrainerState state,
        IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        OptimizerHelper optimizer,
        int keep)
    {
        Directory.CreateDirectory(outputDirectory);
        string final = Path.Combine(outputDirectory, Prefix + state.Step.ToString("D6", CultureInfo.InvariantCulture));
        string temp = Path.Combine(outputDirectory, $".tmp-{Prefix}{state.Step}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);

        // The CPU copies of the weights live only until they are written.
        using (NewDisposeScope())
        {
            SafeTensorsFile.Save(
                Path.Combine(temp, "trainable.safetensors"),
                trainable.Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Parameter.detach().cpu())));
        }

        using (var stream = File.Create(Path.Combine(temp, "optimizer.bin")))
        using (var writer = new BinaryWriter(stream))
        {
            optimizer.save_state_dict(writer);
        }

        using (Tensor rng = random.get_rng_state())
        {
            File.WriteAllBytes(Path.Combine(temp, "rng_state.bin"), rng.data<byte>().ToArray());
        }

        File.WriteAllText(Path.Combine(temp, "trainer_state.json"), JsonSerializer.Serialize(state, Json));

        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }

        Directory.Move(temp, final);
        Prune(outputDirectory, keep);
        return final;
    }

    public static string? Latest(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory))
        {
            return null;
        }

        return Directory.GetDirectories(outputDirectory, Prefix + "*")
            .Where(d => File.Exists(Path.Combine(d, "trainer_state.json")))
            .OrderBy(d => d, StringComparer.Ordinal)
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

    private static void Prune(string outputDirectory, int keep)
    {
        var all = Directory.GetDirectories(outputDirectory, Prefix + "*").OrderBy(d => d, StringComparer.Ordinal).ToList();
        foreach (string old in all.Take(Math.Max(0, all.Count - keep)))
        {
            Directory.Delete(old, recursive: true);
        }
    }
}
