using MagDi.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

/// <summary>Tiny random configs and checkpoints in Hugging Face layout, one per model type.</summary>
internal static class TestCheckpoints
{
    public static ModelConfig Config(string modelType) => modelType switch
    {
        "llama" => new ModelConfig
        {
            ModelType = "llama",
            VocabSize = 61,
            HiddenSize = 32,
            IntermediateSize = 56,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            MaxPositionEmbeddings = 128,
            TieWordEmbeddings = false,
            BosTokenId = 1,
            PadTokenId = 0,
        },
        "mistral" => new ModelConfig
        {
            ModelType = "mistral",
            VocabSize = 53,
            HiddenSize = 48,
            IntermediateSize = 64,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 1,
            HeadDim = 16,
            RmsNormEps = 1e-5,
            RopeTheta = 1_000_000,
            MaxPositionEmbeddings = 128,
            SlidingWindow = 5,
            TieWordEmbeddings = false,
            BosTokenId = 1,
        },
        "qwen2" => new ModelConfig
        {
            ModelType = "qwen2",
            VocabSize = 67,
            HiddenSize = 32,
            IntermediateSize = 40,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            RmsNormEps = 1e-6,
            RopeTheta = 1_000_000,
            MaxPositionEmbeddings = 128,
            TieWordEmbeddings = true,
        },
        _ => throw new ArgumentException(modelType),
    };

    public static CausalLanguageModel Model(string modelType, long seed = 7, ScalarType? dtype = null)
    {
        var model = CausalLanguageModel.CreateRandom(Config(modelType), seed, dtype: dtype);
        // Random non-zero biases and norm weights so the reference comparison covers them.
        using var generator = new Generator((ulong)seed + 100, CPU);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal) || name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                using Tensor noise = normal(0, 0.1, p.shape, generator: generator);
                p.add_(noise.to_type(p.dtype));
            }
        }

        model.eval();
        return model;
    }

    public static Tensor Ids(long vocab, long batch, long length, long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        return randint(2, vocab, [batch, length], dtype: ScalarType.Int64, generator: generator);
    }

    private static readonly string Root = CreateRoot();

    private static string CreateRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "magdi-model-tests-" + Environment.ProcessId);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return root;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected.to_type(ScalarType.Float64) - actual.to_type(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(diff <= atol, $"{what}: max abs difference {diff} > {atol}");
    }
}
