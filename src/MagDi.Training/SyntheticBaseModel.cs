using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MagDi.IO;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// The recipe of a base student for the synthetic benchmark: its pretraining corpus, tokenizer, architecture and training
/// budget. Every field is part of the cache key, so a changed recipe never reuses an old model.
/// </summary>
public sealed class SyntheticBaseModelOptions
{
    /// <summary>Seed of the corpus, the tokenizer's corpus order, the initial weights and the data order. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Problems in the pretraining corpus (one worked solution each). Default 60000.</summary>
    public int Problems { get; set; } = 60_000;

    /// <summary>
    /// The range of the pretraining problems: by default 1 to 3 steps, quantities up to 20 and values up to 60, narrower than
    /// the distillation benchmark asks, so held-out questions ask for more
    /// than the base has seen.
    /// </summary>
    public SyntheticBenchmarkOptions Corpus { get; set; } = new() { MinSteps = 1, MaxSteps = 3, MaxOperand = 20, MaxValue = 60, AllowMultiplication = true };

    /// <summary>Share of the corpus's worked solutions that contain one mistake. Default 0.1.</summary>
    public double MistakeRate { get; set; } = 0.1;

    /// <summary>Byte-level BPE vocabulary size (digits are always split). Default 768.</summary>
    public int VocabularySize { get; set; } = 768;

    /// <summary>Model width. Default 128.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Decoder layers. Default 4.</summary>
    public int Layers { get; set; } = 4;

    /// <summary>Attention heads. Default 4.</summary>
    public int AttentionHeads { get; set; } = 4;

    /// <summary>Key/value heads (grouped-query attention). Default 2.</summary>
    public int KeyValueHeads { get; set; } = 2;

    /// <summary>SwiGLU width. Default 384.</summary>
    public int IntermediateSize { get; set; } = 384;

    /// <summary>Context length. Default 384.</summary>
    public int MaxPositions { get; set; } = 384;

    /// <summary>The pretraining budget. Default 3000 steps of 32 texts (1.6 epochs), peak learning rate 2e-3, 100 warm-up steps.</summary>
    public PretrainingOptions Training { get; set; } = new() { Steps = 3000, BatchSize = 32, LearningRate = 2e-3, WarmupSteps = 100 };

    /// <summary>
    /// The default recipe with a larger student: width 192, 6 layers, 6 attention heads (head size 32, as the default's),
    /// 3 key/value heads, SwiGLU width 576 (about 2.7M parameters, three times the default's). The corpus, tokenizer and
    /// pretraining budget are the default's; only the student's capacity changes. The quickstart distils it with
    /// <see cref="Experiments.SyntheticExperimentOptions.LearningRate"/> 3e-3 (the default's selection procedure picks that
    /// for it; docs/quickstart.md), not the default 1e-2: set it when you use this recipe in a <c>SyntheticExperiment</c>.
    /// </summary>
    public static SyntheticBaseModelOptions Medium() => new()
    {
        HiddenSize = 192,
        Layers = 6,
        AttentionHeads = 6,
        KeyValueHeads = 3,
        IntermediateSize = 576,
    };

    /// <summary>A short hash of every setting: the name of the cache folder.</summary>
    internal string Fingerprint()
    {
        string json = JsonSerializer.Serialize(this, SyntheticBaseModel.RecipeJson);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(SyntheticBaseModel.RecipeVersion + "\n" + json));
        return Convert.ToHexStringLower(hash)[..12];
    }
}

/// <summary>
/// Builds (or reuses) the pretrained base student of the synthetic benchmark with the library itself: a byte-level BPE
/// tokenizer and a small Llama model pretrained by <see cref="PretrainingTrainer"/> on a corpus of synthetic problems
/// with textbook-style worked solutions by seven authors (three of its own, and every teacher form), never on teacher output. The result is a Hugging Face
/// checkpoint folder (<c>config.json</c>, <c>model.safetensors</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>) plus
/// <c>recipe.json</c>, loadable with <see cref="CausalLanguageModel.FromPretrained"/> like any real checkpoint.
/// </summary>
/// <remarks>
/// The folder is <c>{cacheDirectory}/synthetic-base-{fingerprint}</c>: the same recipe on the same machine gives the same
/// weights (one CPU thread is used while building), and a finished folder is reused. It is built in a temporary folder and
/// renamed into place, so an interrupted build leaves nothing that looks finished.
/// </remarks>
public static partial class SyntheticBaseModel
{
    internal const string RecipeVersion = "magdi-synthetic-base/4"; // 4: the textbook writes in every teacher form (seven authors)

    internal static readonly JsonSerializerOptions RecipeJson = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>The folder a recipe is (or will be) cached in.</summary>
    public static string PathFor(string cacheDirectory, SyntheticBaseModelOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        ArgumentNullException.ThrowIfNull(options);
        return Path.Combine(Path.GetFullPath(cacheDirectory), "synthetic-base-" + options.Fingerprint());
    }

    /// <summary>Whether <see cref="PathFor"/> already holds a finished base for this recipe.</summary>
    public static bool IsBuilt(string cacheDirectory, SyntheticBaseModelOptions options) =>
        File.Exists(Path.Combine(PathFor(cacheDirectory, options), "recipe.json"));

    /// <summary>The base model's pretraining texts: each problem with its worked solution, rendered as the MAGDi prompt and target.</summary>
    public static IReadOnlyList<string> Corpus(SyntheticBaseModelOptions options, PromptFormat format)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(format);
        var corpus = new SyntheticBenchmarkOptions
        {
            Seed = options.Corpus.Seed ^ (options.Seed * 7919),
            MinSteps = options.Corpus.MinSteps,
            MaxSteps = options.Corpus.MaxSteps,
            MaxOperand = options.Corpus.MaxOperand,
            MaxValue = options.Corpus.MaxValue,
            AllowMultiplication = options.Corpus.AllowMultiplication,
        };
        var template = new MagDiPromptTemplate(format);
        var problems = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, options.Problems, corpus);
        return SyntheticTextbook.Write(problems, new SyntheticTextbookOptions { MistakeRate = options.MistakeRate, Seed = options.Seed })
            .Select(e =>
            {
                ReasoningTask task = SyntheticTasks.For(e.Problem.Family);
                return template.RenderPrompt(task, e.Problem.ToQuestion()) + MagDiPromptTemplate.RenderTarget(e.Reasoning, e.Answer);
            })
            .ToList();
    }

    /// <summary>Returns the cached base for <paramref name="options"/>, building it first when there is none.</summary>
    /// <param name="cacheDirectory">The folder that holds base models (for example the experiment's output folder).</param>
    /// <param name="options">The recipe.</param>
    /// <param name="progress">Reports every pretraining step.</param>
    /// <param name="logger">Receives the build's milestones.</param>
    /// <param name="cancellationToken">Stops the build (nothing is left in the cache).</param>
    /// <returns>The checkpoint folder.</returns>
    public static async Task<string> EnsureAsync(
        string cacheDirectory,
        SyntheticBaseModelOptions options,
        IProgress<TrainingProgress>? progress = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        string target = PathFor(cacheDirectory, options);
        if (File.Exists(Path.Combine(target, "recipe.json")))
        {
            return target;
        }

        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        AtomicFile.DeleteLeftovers(parent, Path.GetFileName(target)); // a build that was killed: only MagDi's own temporary folders
        // Built under one of MagDi's temporary names, then put in place as one unit (a failed or cancelled build leaves nothing).
        await AtomicFile.WriteDirectoryAsync(
            target, (temp, ct) => BuildAsync(temp, options, progress, logger, ct), cancellationToken).ConfigureAwait(false);
        return target;
    }

    /// <summary>Builds the base into <paramref name="directory"/> (no cache); <paramref name="stopAfterSteps"/> stops after a prefix of the run.</summary>
    internal static async Task BuildAsync(
        string directory, SyntheticBaseModelOptions options, IProgress<TrainingProgress>? progress, ILogger? logger, CancellationToken ct, int? stopAfterSteps = null)
    {
        TorchRuntime.EnsureInitialized();
        IReadOnlyList<string> corpus = Corpus(options, PromptFormat.Mistral);
        ITextTokenizer tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = options.VocabularySize, SplitDigits = true })
            .Train(corpus, directory, ct);
        var config = new ModelConfig
        {
            ModelType = "llama",
            Architectures = ["LlamaForCausalLM"],
            VocabSize = tokenizer.VocabularySize,
            HiddenSize = options.HiddenSize,
            IntermediateSize = options.IntermediateSize,
            NumHiddenLayers = options.Layers,
            NumAttentionHeads = options.AttentionHeads,
            NumKeyValueHeads = options.KeyValueHeads,
            MaxPositionEmbeddings = options.MaxPositions,
            RmsNormEps = 1e-5,
            TieWordEmbeddings = true,
            BosTokenId = tokenizer.Special.BosId,
            PadTokenId = tokenizer.Special.PadId,
        };
        config.SetEosTokenId(tokenizer.Special.EosId!.Value);

        int threads = get_num_threads();
        set_num_threads(1); // one thread: the same recipe gives the same weights on this machine, whatever its core count
        try
        {
            using CausalLanguageModel model = CausalLanguageModel.CreateRandom(config, options.Seed, CPU, ScalarType.Float32);
            var training = options.Training;
            var pretrainingOptions = new PretrainingOptions
            {
                Steps = training.Steps,
                BatchSize = training.BatchSize,
                LearningRate = training.LearningRate,
                WarmupSteps = training.WarmupSteps,
                WeightDecay = training.WeightDecay,
                AdamBeta2 = training.AdamBeta2,
                MaxGradNorm = training.MaxGradNorm,
                Seed = options.Seed,
                StopAfterSteps = stopAfterSteps,
            };
            PretrainingResult result = await new PretrainingTrainer(model, tokenizer, pretrainingOptions, logger, progress)
                .TrainAsync(corpus, ct).ConfigureAwait(false);
            model.SavePretrained(directory);
            if (logger is not null)
            {
                LogBuilt(logger, directory, result.Steps, result.LossHistory.Count > 0 ? result.LossHistory[^1] : double.NaN, result.Duration.TotalSeconds);
            }
        }
        finally
        {
            set_num_threads(threads);
        }

        if (stopAfterSteps is not null)
        {
            return; // a prefix of the run is never a finished base
        }

        // recipe.json last: its presence marks a finished base.
        string recipe = JsonSerializer.Serialize(new { recipe = RecipeVersion, fingerprint = options.Fingerprint(), options }, RecipeJson);
        await AtomicFile.WriteAllTextAsync(Path.Combine(directory, "recipe.json"), recipe, ct).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Built the synthetic base student in {Directory}: {Steps} steps, final loss {Loss:F4}, {Seconds:F0} s")]
    private static partial void LogBuilt(ILogger logger, string directory, int steps, double loss, double seconds);
}
