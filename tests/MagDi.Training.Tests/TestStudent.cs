using MagDi.Graphs;
using MagDi.Modeling;

namespace MagDi.Training.Tests;

internal static class TestStudent
{
    public static ModelConfig Config(int vocab = 98) => new()
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
        BosTokenId = CharTokenizer.Bos,
        PadTokenId = CharTokenizer.Pad,
    };

    public static CausalLanguageModel Model(long seed = 3) => CausalLanguageModel.CreateRandom(Config(), seed);

    /// <summary>A small corpus of synthetic-arithmetic MAGs with correct and incorrect nodes over 1 to 3 rounds.</summary>
    public static List<InteractionGraph> Graphs(int count = 8) => SampleMags.Arithmetic(count);

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "magdi-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

internal static class TrainerBuilderExtensions
{
    /// <summary>Builds a trainer, runs it once and disposes it, as an application that trains once would.</summary>
    public static async Task<TrainingResult> BuildAndTrainAsync(this MagDiTrainerBuilder builder, CancellationToken cancellationToken = default)
    {
        using MagDiTrainer trainer = builder.Build();
        return await trainer.TrainAsync(cancellationToken);
    }
}

/// <summary>Reports synchronously on the training thread (unlike Progress&lt;T&gt;).</summary>
internal sealed class SyncProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}
