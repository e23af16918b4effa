using System.Globalization;
using System.Text.Json;
using MagDi.IO;
using MagDi.Runtime;
using MagDi.SafeTensors;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Input of <see cref="CausalLanguageModel"/>.</summary>
/// <param name="InputIds">Token ids [B,T] (int64).</param>
/// <param name="AttentionMask">
/// 1 for a token, 0 for padding; [B,T], or [B,past+T] when a <paramref name="Cache"/> already holds past positions.
/// Left and right padding both work; position ids are derived from the mask (so left-padded rows start at 0).
/// </param>
/// <param name="Cache">Optional KV cache; the forward writes at <see cref="KvCache.Length"/> and advances it.</param>
/// <param name="OutputHiddenStates">Also return the final-norm hidden states.</param>
/// <param name="PositionIds">Explicit position ids [B,T]; overrides the ones derived from the mask.</param>
/// <param name="LogitsToKeep">
/// Which positions get logits (Hugging Face <c>logits_to_keep</c>): null for all [B,T,V] (default); n &gt; 0 for the last
/// n positions only [B,n,V] (generation needs 1); 0 for none ([B,0,V]), when the caller projects selected hidden states itself
/// with <see cref="CausalLanguageModel.ComputeLogits"/> (the output head is the largest single matmul for big
/// vocabularies, and [B,T,V] logits the largest activation).
/// </param>
public sealed record CausalLMInput(Tensor InputIds, Tensor? AttentionMask = null, KvCache? Cache = null, bool OutputHiddenStates = false, Tensor? PositionIds = null, int? LogitsToKeep = null);

/// <summary>Output of <see cref="CausalLanguageModel"/>.</summary>
/// <param name="Logits">Next-token logits [B,T,V] in the model dtype ([B,n,V] for <see cref="CausalLMInput.LogitsToKeep"/> n, empty for 0).</param>
/// <param name="LastHiddenState">Hidden states after the final norm [B,T,d] (Hugging Face <c>hidden_states[-1]</c>), when requested.</param>
/// <param name="Cache">The cache passed in, advanced past this input.</param>
public sealed record CausalLMOutput(Tensor Logits, Tensor? LastHiddenState, KvCache? Cache);

/// <summary>How <see cref="CausalLanguageModel.FromPretrained"/> places and checks the weights.</summary>
public sealed class ModelLoadOptions
{
    /// <summary>Target device; null means CPU.</summary>
    public Device? Device { get; set; }

    /// <summary>Target dtype (float32, bfloat16 or float16); null means float32.</summary>
    public ScalarType? DType { get; set; }

    /// <summary>Fail when checkpoint keys and model keys differ (default true); when false, missing weights keep their initialisation.</summary>
    public bool Strict { get; set; } = true;
}

/// <summary>The checkpoint's tensor names do not match the model's state-dict keys.</summary>
public sealed class CheckpointKeyMismatchException : IOException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointKeyMismatchException(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected)
        : base($"Checkpoint '{directory}' does not match the model: " +
               $"{missing.Count} missing key(s) [{string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", ..." : "")}], " +
               $"{unexpected.Count} unexpected key(s) [{string.Join(", ", unexpected.Take(20))}{(unexpected.Count > 20 ? ", ..." : "")}]. " +
               "Use ModelLoadOptions.Strict = false to load anyway.")
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
    }

    /// <summary>Model keys absent from the checkpoint.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Checkpoint keys the model does not have.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }
}

/// <summary>The decoder stack (<c>model.*</c> keys): embeddings, layers, final norm.</summary>
internal sealed class DecoderStack : nn.Module
{
    [ComponentName(Name = "embed_tokens")] private readonly Embedding _embedTokens;
    [ComponentName(Name = "layers")] private readonly ModuleList<DecoderLayer> _layers;
    [ComponentName(Name = "norm")] private readonly RmsNorm _norm;

    public DecoderStack(ModelConfig c, Device? device, ScalarType dtype) : base("model")
    {
        _embedTokens = Make.Embedding(c.VocabSize, c.HiddenSize, device, dtype);
        _layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new DecoderLayer(c, i, device, dtype)).ToArray());
        _norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    public Embedding EmbedTokens => _embedTokens;

    public IList<DecoderLayer> Layers => _layers;

    public Tensor Forward(Tensor inputIds, LayerContext ctx, bool checkpoint)
    {
        using var scope = NewDisposeScope();
        Tensor h = _embedTokens.call(inputIds); // [B,T,d]
        foreach (DecoderLayer layer in _layers)
        {
            h = layer.Forward(h, ctx, checkpoint);
        }

        return _norm.call(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A Llama-family causal language model (Hugging Face <c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>,
/// <c>Qwen2ForCausalLM</c>): RMSNorm, rotary embeddings, grouped-query attention, SwiGLU MLP, tied or separate
/// output head. State-dict keys equal the Hugging Face ones (<c>model.layers.0.self_attn.q_proj.weight</c>, ...).
/// </summary>
/// <example>
/// <code>
/// using var model = CausalLanguageModel.FromPretrained("path/to/checkpoint", new() { DType = ScalarType.BFloat16 });
/// using var ids = torch.tensor(new long[] { 1, 415, 2936 }).unsqueeze(0);
/// CausalLMOutput output = model.call(new CausalLMInput(ids));   // output.Logits [1,3,V]
/// </code>
/// </example>
public sealed class CausalLanguageModel : nn.Module<CausalLMInput, CausalLMOutput>
{
    [ComponentName(Name = "model")] private readonly DecoderStack _model;
    [ComponentName(Name = "lm_head")] private readonly Linear? _lmHead;

    /// <summary>Creates a model with Hugging Face's initialisation from seed 0 (see <see cref="CreateRandom"/>).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Device of the parameters; null means CPU.</param>
    /// <param name="dtype">Parameter dtype; null means float32.</param>
    public CausalLanguageModel(ModelConfig config, Device? device = null, ScalarType? dtype = null)
        : this(config, device, dtype, initializeSeed: 0)
    {
    }

    private CausalLanguageModel(ModelConfig config, Device? device, ScalarType? dtype, long? initializeSeed) : base("CausalLanguageModel")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        TorchRuntime.EnsureInitialized();
        Config = config;
        ScalarType type = dtype ?? ScalarType.Float32;
        CheckDType(type);
        _model = new DecoderStack(config, device, type);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = Make.Linear(config.HiddenSize, config.VocabSize, bias: false, device, type);
        }

        RegisterComponents();
        if (initializeSeed is { } seed)
        {
            Initialize(seed, 0.02);
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>Recompute each decoder layer in the backward pass instead of storing its activations (training mode only).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>How attention over several query tokens is computed; <see cref="AttentionImplementation.Auto"/> by default.</summary>
    public AttentionImplementation AttentionImplementation { get; set; }

    /// <summary>The device of the parameters.</summary>
    public Device Device => _model.EmbedTokens.weight!.device;

    /// <summary>The dtype of the base parameters.</summary>
    public ScalarType DType => _model.EmbedTokens.weight!.dtype;

    /// <summary>The input embedding matrix [V,d] (<c>model.embed_tokens.weight</c>).</summary>
    public Parameter EmbeddingWeight => _model.EmbedTokens.weight!;

    internal DecoderStack Decoder => _model;

    /// <summary>Creates a model with Hugging Face's initialisation (normal(0, 0.02) weights, zero biases, unit norms) from a seed.</summary>
    public static CausalLanguageModel CreateRandom(ModelConfig config, long seed, Device? device = null, ScalarType? dtype = null, double initializerRange = 0.02)
    {
        ArgumentNullException.ThrowIfNull(config);
        TorchRuntime.EnsureInitialized();
        var model = new CausalLanguageModel(config, device, dtype, initializeSeed: null);
        model.Initialize(seed, initializerRange);
        return model;
    }

    private void Initialize(long seed, double initializerRange)
    {
        using var generator = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                p.fill_(1.0);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                p.zero_();
            }
            else
            {
                using Tensor init = normal(0.0, initializerRange, p.shape, ScalarType.Float32, CPU, generator: generator);
                p.copy_(init);
            }
        }
    }

    /// <summary>
    /// Loads <c>config.json</c> plus <c>model.safetensors</c> (or the shards listed in <c>model.safetensors.index.json</c>)
    /// from a Hugging Face checkpoint folder. Tensors stored as F32, BF16 or F16 are converted one at a time directly into
    /// the parameters, so peak memory stays near the model's size.
    /// </summary>
    /// <exception cref="FileNotFoundException">No config.json or no weights file.</exception>
    /// <exception cref="CheckpointKeyMismatchException">Strict loading and the keys differ.</exception>
    /// <exception cref="NotSupportedException">Unsupported model_type, rope_scaling or tensor dtype.</exception>
    /// <exception cref="NonFiniteException">A weight holds NaN or an infinity (the message names the tensors).</exception>
    public static CausalLanguageModel FromPretrained(string directory, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new ModelLoadOptions();
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"'{directory}' has no config.json.", configPath);
        }

        ModelConfig config = ModelConfig.Load(configPath);
        Dictionary<string, string> weightMap = ResolveWeightFiles(directory);
        // Everything config.json implies is compared with the weights' headers before a byte is allocated: a config
        // can claim a million layers or a vocabulary of 2^31 - 1 (issue 15).
        CheckWeightsBeforeAllocating(directory, configPath, config, weightMap, options);
        TorchRuntime.EnsureInitialized();
        CausalLanguageModel model;
        // Strict loading overwrites every parameter, so skip initialisation; lenient loading keeps it for missing keys.
        model = new CausalLanguageModel(config, options.Device, options.DType, options.Strict ? null : 0);

        try
        {
            model.LoadWeights(directory, weightMap, options.Strict);

            // A NaN or an infinity in the weights would surface only as bad logits later, or not at all (attention can mask
            // it): refuse the checkpoint now, naming the tensors (one reduction per tensor, small next to reading them).
            IReadOnlyList<string> bad = NonFiniteException.FindNonFiniteWeights(model, out int total);
            if (total > 0)
            {
                throw new NonFiniteException(
                    $"'{directory}': {total} weight tensor(s) hold NaN or infinite values: {string.Join(", ", bad)}{(total > bad.Count ? ", ..." : string.Empty)}. The checkpoint is damaged.")
                {
                    TensorName = bad[0],
                    NonFiniteWeights = bad,
                };
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }

        return model;
    }

    private static void CheckWeightsBeforeAllocating(string directory, string configPath, ModelConfig config, Dictionary<string, string> weightMap, ModelLoadOptions options)
    {
        var stored = new Dictionary<string, (string File, SafeTensorInfo Info)>(StringComparer.Ordinal);
        foreach (var group in weightMap.GroupBy(kv => kv.Value, kv => kv.Key))
        {
            if (!File.Exists(group.Key))
            {
                throw new FileNotFoundException($"Checkpoint shard '{group.Key}' listed in the index does not exist.", group.Key);
            }

            using SafeTensorsFile file = SafeTensorsFile.Open(group.Key);
            foreach (string name in group)
            {
                if (!file.Tensors.TryGetValue(name, out SafeTensorInfo? info))
                {
                    throw new InvalidDataException($"'{group.Key}' does not contain '{name}' although the index says so.");
                }

                stored[name] = (group.Key, info);
            }
        }

        if (options.Strict)
        {
            // Layers counted by the one norm every layer has (other keys, such as rotary_emb.inv_freq, may be extra).
            int storedLayers = stored.Keys
                .Select(k => k.StartsWith("model.layers.", StringComparison.Ordinal) && k.EndsWith(".input_layernorm.weight", StringComparison.Ordinal)
                    && int.TryParse(k.AsSpan(13, k.Length - 13 - 23), NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i + 1 : 0)
                .DefaultIfEmpty(0).Max();
            if (storedLayers != config.NumHiddenLayers)
            {
                throw new InvalidDataException($"'{configPath}': field 'num_hidden_layers' is {config.NumHiddenLayers} but the weights in '{directory}' hold {storedLayers} layer(s).");
            }
        }

        var expected = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var (name, shape) in config.ExpectedTensorShapes())
        {
            expected.Add(name);
            if (!stored.TryGetValue(name, out var found))
            {
                missing.Add(name);
            }
            else if (!found.Info.Shape.SequenceEqual(shape))
            {
                throw new InvalidDataException(
                    $"'{found.File}': tensor '{name}' has shape [{string.Join(", ", found.Info.Shape)}] but config.json ('{configPath}': {config.FieldsShaping(name)}) describes [{string.Join(", ", shape)}].");
            }
        }

        if (options.Strict)
        {
            var unexpected = stored.Keys.Where(k => !expected.Contains(k) && !(config.TieWordEmbeddings && k == "lm_head.weight"))
                .OrderBy(k => k, StringComparer.Ordinal).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                throw new CheckpointKeyMismatchException(directory, [.. missing.Order(StringComparer.Ordinal)], unexpected);
            }
        }

        // Lenient loading initialises what the checkpoint lacks, so the file does not bound the size: the machine must.
        long bytesPerParameter = (options.DType ?? ScalarType.Float32) switch { ScalarType.Float32 => 4, _ => 2 };
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long parameters = config.ParameterCount();
        if ((options.Device is null || options.Device.type == DeviceType.CPU) && available > 0 && parameters > available / bytesPerParameter)
        {
            throw new InvalidDataException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{configPath}': config.json describes {parameters:N0} parameters ({parameters * (double)bytesPerParameter / (1L << 30):0.#} GiB), more than the {available / (double)(1L << 30):0.#} GiB of memory available."));
        }
    }

    private static Dictionary<string, string> ResolveWeightFiles(string directory)
    {
        string single = Path.Combine(directory, "model.safetensors");
        string index = Path.Combine(directory, "model.safetensors.index.json");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(index))
        {
            using JsonDocument doc = JsonFile.Parse(index, JsonFile.MaxConfigBytes);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{index}': the root must be a JSON object.");
            }

            if (!root.TryGetProperty("weight_map", out JsonElement wm) || wm.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{index}': missing object field 'weight_map'.");
            }

            foreach (JsonProperty p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidDataException($"'{index}': weight_map.{p.Name} must be a file name string.");
                }

                string file = p.Value.GetString()!;
                if (file.Contains('/', StringComparison.Ordinal) || file.Contains('\\', StringComparison.Ordinal) || file.Contains("..", StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"'{index}': weight_map.{p.Name} names '{file}', which is not a file in the checkpoint folder.");
                }

                map[p.Name] = Path.Combine(directory, file);
            }

            return map;
        }

        if (File.Exists(single))
        {
            using SafeTensorsFile f = SafeTensorsFile.Open(single);
            foreach (string name in f.Tensors.Keys)
            {
                map[name] = single;
            }

            return map;
        }

        throw new FileNotFoundException($"'{directory}' has neither model.safetensors nor model.safetensors.index.json.", single);
    }

    private void LoadWeights(string directory, Dictionary<string, string> weightMap, bool strict)
    {
        var parameters = state_dict();
        var checkpointKeys = weightMap.Keys.ToHashSet(StringComparer.Ordinal);
        if (Config.TieWordEmbeddings)
        {
            // Tied checkpoints sometimes still store the head; it must equal the embedding, which is what we load.
            checkpointKeys.Remove("lm_head.weight");
        }

        var missing = parameters.Keys.Where(k => !checkpointKeys.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = checkpointKeys.Where(k => !parameters.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
        {
            throw new CheckpointKeyMismatchException(directory, missing, unexpected);
        }

        foreach (var group in parameters.Where(kv => checkpointKeys.Contains(kv.Key)).GroupBy(kv => weightMap[kv.Key]))
        {
            if (!File.Exists(group.Key))
            {
                throw new FileNotFoundException($"Checkpoint shard '{group.Key}' listed in the index does not exist.", group.Key);
            }

            using SafeTensorsFile file = SafeTensorsFile.Open(group.Key);
            foreach (var (name, tensor) in group)
            {
                if (!file.Tensors.TryGetValue(name, out SafeTensorInfo? info))
                {
                    throw new InvalidDataException($"'{group.Key}' does not contain '{name}' although the index says so.");
                }

                if (info.ScalarType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                {
                    throw new NotSupportedException($"'{group.Key}': tensor '{name}' is stored as {info.DType}; only F32, BF16 and F16 weights are supported.");
                }

                file.ReadInto(name, tensor);
            }
        }
    }

    /// <summary>
    /// Saves <c>config.json</c> and <c>model.safetensors</c> in the Hugging Face layout (Python <c>transformers</c> loads it),
    /// as one unit (<see cref="AtomicFile.WriteDirectory"/>): a kill or a full disk leaves the old checkpoint or the new
    /// one, and other files in the folder (a tokenizer, for example) are kept.
    /// LoRA adapter weights are not part of the base checkpoint; merge them first for a merged export
    /// (see <c>LoraAdapter.MergeAndSave</c>).
    /// </summary>
    /// <param name="directory">Target folder (created when missing).</param>
    /// <param name="dtype">On-disk dtype; null keeps the model's dtype.</param>
    public void SavePretrained(string directory, ScalarType? dtype = null) => SavePretrained(directory, dtype, BaseStateDict());

    internal void SavePretrained(string directory, ScalarType? dtype, IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ScalarType type = dtype ?? DType;
        CheckDType(type);
        ModelConfig config = Config.Clone();
        config.TorchDtype = type switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" };
        var tensors = stateDict.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.dtype == type ? kv.Value : kv.Value.detach().to_type(type)));
        AtomicFile.WriteDirectory(directory, temp =>
        {
            SafeTensorsFile.Save(Path.Combine(temp, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            config.Save(Path.Combine(temp, "config.json"));
        });
    }

    /// <summary>The base model's tensors under their Hugging Face keys (adapter weights excluded).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> BaseStateDict() =>
        state_dict().Where(kv => !kv.Key.Contains(".lora_", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal);

    /// <inheritdoc />
    public override CausalLMOutput forward(CausalLMInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor ids = input.InputIds;
        if (ids.dim() != 2)
        {
            throw new ArgumentException($"InputIds must be [batch, time]; got [{string.Join(", ", ids.shape)}].", nameof(input));
        }

        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1];
        using var decoding = CpuKernels.DecodingStep(t == 1 && !is_grad_enabled());  // the CPU kernels serve these steps only
        KvCache? cache = input.Cache;
        long past = cache?.Length ?? 0;
        long s = past + t;
        Device device = ids.device;
        Tensor? mask = input.AttentionMask;
        if (mask is not null && (mask.dim() != 2 || mask.shape[0] != b || mask.shape[1] != s))
        {
            throw new ArgumentException($"AttentionMask must be [{b}, {s}] (batch, past + time); got [{string.Join(", ", mask.shape)}].", nameof(input));
        }

        if (s > Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"Sequence length {s} exceeds max_position_embeddings {Config.MaxPositionEmbeddings}.", nameof(input));
        }

        Tensor positions = input.PositionIds
            ?? (mask is not null
                ? (mask.to_type(ScalarType.Int64).cumsum(-1) - 1).clamp_min(0).narrow(1, past, t)
                : arange(past, s, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(b, t));
        var (cos, sin) = Rope.Build(positions, Config.EffectiveHeadDim, Config.RopeTheta, DType);

        int? window = Config.EffectiveSlidingWindow;
        bool hasPadding = mask is not null && mask.min().item<long>() == 0;
        if (hasPadding && past == 0 && s > 1 && !mask!.narrow(1, 1, s - 1).gt(mask.narrow(1, 0, s - 1)).any().item<bool>())
        {
            // Right padding only (no 0 -> 1 step in any row): under the causal mask a real token never sees a later pad,
            // so the fast causal kernel gives identical results for every real token.
            hasPadding = false;
        }

        bool windowActive = window is not null && s > window;
        bool eager = t > 1 && UseEagerAttention(AttentionImplementation, device, DType, b * Config.NumAttentionHeads * t * s);
        Tensor? attnMask = null;
        bool isCausal = false;
        if (hasPadding || windowActive || (past > 0 && t > 1) || eager) // eager attention has no causal flag: it needs the mask
        {
            Tensor q = arange(past, s, dtype: ScalarType.Int64, device: device).unsqueeze(1); // [T,1] absolute query positions
            Tensor k = arange(0, s, dtype: ScalarType.Int64, device: device).unsqueeze(0);    // [1,S]
            Tensor allowed = k <= q;
            if (windowActive)
            {
                allowed = allowed.logical_and(q - k < window!.Value);
            }

            allowed = allowed.unsqueeze(0).unsqueeze(0);                                       // [1,1,T,S]
            if (hasPadding)
            {
                allowed = allowed.logical_and(mask!.to_type(ScalarType.Bool).unsqueeze(1).unsqueeze(1)); // [B,1,T,S]
            }

            // Padding queries attend to themselves so their (ignored) rows stay finite.
            attnMask = allowed.logical_or((k == q).unsqueeze(0).unsqueeze(0));
        }
        else if (t > 1)
        {
            isCausal = past == 0;
        }

        var ctx = new LayerContext(cos, sin, attnMask, isCausal, cache, past, eager);
        Tensor hidden = _model.Forward(ids, ctx, GradientCheckpointing); // [B,T,d]
        Tensor logits = input.LogitsToKeep switch
        {
            null => ComputeLogits(hidden),                                                                       // [B,T,V]
            int n when n >= 0 => ComputeLogits(hidden.narrow(1, t - Math.Min(n, t), Math.Min(n, t))),            // [B,min(n,T),V]
            int n => throw new ArgumentException($"LogitsToKeep must be null or at least 0; got {n}.", nameof(input)),
        };
        if (cache is not null)
        {
            cache.Length = (int)s;
        }

        return new CausalLMOutput(
            logits.MoveToOuterDisposeScope(),
            input.OutputHiddenStates ? hidden.MoveToOuterDisposeScope() : null,
            cache);
    }

    /// <summary>
    /// Applies the output head (<c>lm_head</c>, or the input embeddings when they are tied) to final-norm hidden states,
    /// for example to the rows of <see cref="CausalLMOutput.LastHiddenState"/> that need logits.
    /// </summary>
    /// <param name="hiddenStates">Hidden states [..., d] in the model dtype.</param>
    /// <returns>Logits [..., V] in the model dtype.</returns>
    public Tensor ComputeLogits(Tensor hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(hiddenStates);
        return CpuGemv.Linear(hiddenStates, _lmHead?.weight ?? _model.EmbedTokens.weight!, null);
    }

    /// <summary>Scores per layer up to which <see cref="AttentionImplementation.Auto"/> picks eager attention on the CPU (float32 copy: 32 MiB).</summary>
    internal const long EagerScoreLimit = 1L << 23;

    /// <summary>Whether a forward over several query tokens uses eager attention; <paramref name="scores"/> = B x H x T x S.</summary>
    internal static bool UseEagerAttention(AttentionImplementation implementation, Device device, ScalarType dtype, long scores) => implementation switch
    {
        AttentionImplementation.Eager => true,
        AttentionImplementation.Sdpa => false,
        AttentionImplementation.Auto => device.type == DeviceType.CPU && (dtype is ScalarType.BFloat16 or ScalarType.Float16) && scores <= EagerScoreLimit,
        _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, "Unknown attention implementation."),
    };

    private static void CheckDType(ScalarType type)
    {
        if (type is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
        {
            throw new NotSupportedException($"Model dtype {type} is not supported; use Float32, BFloat16 or Float16.");
        }
    }
}
