using System.Text.Json;
using System.Text.Json.Serialization;
using MagDi.IO;

namespace MagDi.Modeling;

/// <summary>
/// The architecture of a Llama-family decoder, read from and written to a Hugging Face <c>config.json</c>.
/// Supported <c>model_type</c>s: <c>llama</c>, <c>mistral</c>, <c>qwen2</c>.
/// </summary>
public sealed class ModelConfig
{
    /// <summary>The model types this implementation covers.</summary>
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2"];

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary><c>model_type</c>: <c>llama</c>, <c>mistral</c> or <c>qwen2</c>.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "llama";

    /// <summary><c>architectures</c>, written for Python <c>transformers</c> (for example <c>LlamaForCausalLM</c>).</summary>
    [JsonPropertyName("architectures")] public IList<string>? Architectures { get; set; }

    /// <summary><c>vocab_size</c>.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 32000;

    /// <summary><c>hidden_size</c> (d_model).</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 4096;

    /// <summary><c>intermediate_size</c> of the SwiGLU MLP.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 11008;

    /// <summary><c>num_hidden_layers</c>.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 32;

    /// <summary><c>num_attention_heads</c>.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 32;

    /// <summary><c>num_key_value_heads</c> (grouped-query attention); null means equal to the attention heads.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; set; }

    /// <summary><c>head_dim</c>; null means <c>hidden_size / num_attention_heads</c>.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDim { get; set; }

    /// <summary><c>hidden_act</c>; only <c>silu</c> is supported.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";

    /// <summary><c>rms_norm_eps</c>.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-6;

    /// <summary><c>rope_theta</c>, the rotary base.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = 10000.0;

    /// <summary><c>rope_scaling</c>; must be null (no RoPE scaling variant is implemented).</summary>
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; set; }

    /// <summary><c>max_position_embeddings</c>.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 4096;

    /// <summary><c>tie_word_embeddings</c>: the output head reuses <c>model.embed_tokens.weight</c>.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; }

    /// <summary><c>attention_bias</c> (llama): biases on q/k/v/o projections. Qwen2 always has q/k/v biases.</summary>
    [JsonPropertyName("attention_bias")] public bool? AttentionBias { get; set; }

    /// <summary><c>mlp_bias</c> (llama): biases on the MLP projections.</summary>
    [JsonPropertyName("mlp_bias")] public bool? MlpBias { get; set; }

    /// <summary><c>sliding_window</c> (mistral; qwen2 only with <c>use_sliding_window</c>): attention span in tokens.</summary>
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; set; }

    /// <summary><c>use_sliding_window</c> (qwen2); true is not supported.</summary>
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; set; }

    /// <summary><c>attention_dropout</c>; must be 0.</summary>
    [JsonPropertyName("attention_dropout")] public double? AttentionDropout { get; set; }

    /// <summary><c>bos_token_id</c>.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; }

    /// <summary><c>eos_token_id</c>: one id or a list (Llama-3 style).</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIdRaw { get; set; }

    /// <summary><c>pad_token_id</c>.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }

    /// <summary><c>torch_dtype</c> (informational: the dtype the checkpoint was saved in).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; }

    /// <summary>Fields of <c>config.json</c> this class does not model, kept so a save round-trips them.</summary>
    [JsonExtensionData] public IDictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>The effective number of key/value heads.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>The effective per-head dimension.</summary>
    [JsonIgnore] public int EffectiveHeadDim => HeadDim ?? (NumAttentionHeads > 0 ? HiddenSize / NumAttentionHeads : 0);

    /// <summary>Whether q/k/v projections have biases (qwen2 always; llama when <c>attention_bias</c>).</summary>
    [JsonIgnore] public bool QkvBias => ModelType == "qwen2" || AttentionBias == true;

    /// <summary>Whether the output projection has a bias (llama with <c>attention_bias</c>).</summary>
    [JsonIgnore] public bool OutputBias => ModelType == "llama" && AttentionBias == true;

    /// <summary>The sliding attention window in effect, or null for full causal attention.</summary>
    [JsonIgnore]
    public int? EffectiveSlidingWindow => ModelType switch
    {
        "mistral" => SlidingWindow,
        "qwen2" when UseSlidingWindow == true => SlidingWindow,
        _ => null,
    };

    /// <summary>The end-of-sequence ids (<c>eos_token_id</c> as a list).</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenIdRaw switch
    {
        { ValueKind: JsonValueKind.Number } e => [e.GetInt32()],
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        _ => [],
    };

    /// <summary>Sets <c>eos_token_id</c> to a single id.</summary>
    public void SetEosTokenId(int id) => EosTokenIdRaw = JsonSerializer.SerializeToElement(id);

    /// <summary>Number of parameters of the model this config describes (the tied head counted once).</summary>
    public long ParameterCount()
    {
        long d = HiddenSize, hd = EffectiveHeadDim, h = NumAttentionHeads, kv = KeyValueHeads, ff = IntermediateSize;
        long attn = (d * h * hd) + (2 * d * kv * hd) + (h * hd * d) + (QkvBias ? (h + 2 * kv) * hd : 0) + (OutputBias ? d : 0);
        long mlp = (3 * d * ff) + (MlpBias == true ? 2 * ff + d : 0);
        long layer = attn + mlp + 2 * d;
        long embed = (long)VocabSize * d;
        return embed + (NumHiddenLayers * layer) + d + (TieWordEmbeddings ? 0 : embed);
    }

    /// <summary>
    /// Checks the configuration and throws one exception listing every problem.
    /// </summary>
    /// <exception cref="NotSupportedException">An unsupported <c>model_type</c>, <c>rope_scaling</c>, activation or sliding-window mode.</exception>
    /// <exception cref="ArgumentException">Inconsistent or out-of-range sizes.</exception>
    public void Validate()
    {
        if (!SupportedModelTypes.Contains(ModelType))
        {
            throw new NotSupportedException($"model_type '{ModelType}' is not supported; MagDi implements {string.Join(", ", SupportedModelTypes)}.");
        }

        if (RopeScaling is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } rs)
        {
            throw new NotSupportedException($"rope_scaling {rs.GetRawText()} is not supported; only plain RoPE (rope_scaling null) is implemented, and a scaled checkpoint would silently compute wrong logits.");
        }

        if (!string.Equals(HiddenAct, "silu", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"hidden_act '{HiddenAct}' is not supported; only 'silu' (SwiGLU) is implemented.");
        }

        if (ModelType == "qwen2" && UseSlidingWindow == true)
        {
            throw new NotSupportedException("qwen2 with use_sliding_window=true (per-layer sliding windows) is not supported.");
        }

        var errors = new List<string>();
        void Positive(string name, double value)
        {
            if (!(value > 0))
            {
                errors.Add($"{name} must be positive (got {value})");
            }
        }

        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("num_key_value_heads", KeyValueHeads);
        Positive("rms_norm_eps", RmsNormEps);
        Positive("rope_theta", RopeTheta);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        if (HeadDim is null && NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads != 0)
        {
            errors.Add($"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads} and head_dim is not given");
        }

        if (EffectiveHeadDim <= 0 || EffectiveHeadDim % 2 != 0)
        {
            errors.Add($"head_dim must be a positive even number for rotary embeddings (got {EffectiveHeadDim})");
        }

        if (KeyValueHeads > 0 && NumAttentionHeads % KeyValueHeads != 0)
        {
            errors.Add($"num_attention_heads {NumAttentionHeads} must be a multiple of num_key_value_heads {KeyValueHeads}");
        }

        if (SlidingWindow is <= 0 && EffectiveSlidingWindow is not null)
        {
            errors.Add($"sliding_window must be positive when set (got {SlidingWindow})");
        }

        if (AttentionDropout is > 0)
        {
            errors.Add($"attention_dropout must be 0 (got {AttentionDropout})");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException($"Invalid model config ({ModelType}): {string.Join("; ", errors)}.");
        }
    }

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    /// <exception cref="InvalidDataException">Malformed JSON or wrongly typed field (message names the file).</exception>
    public static ModelConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ModelConfig config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"'{path}': config is JSON null.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}': invalid config.json at {ex.Path} (line {ex.LineNumber + 1}): {ex.Message}", ex);
        }

        try
        {
            config.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }

        return config;
    }

    /// <summary>Writes the configuration as a Hugging Face <c>config.json</c> (atomically, see <see cref="AtomicFile"/>).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Architectures ??= [ModelType switch { "mistral" => "MistralForCausalLM", "qwen2" => "Qwen2ForCausalLM", _ => "LlamaForCausalLM" }];
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));
    }

    /// <summary>A deep copy.</summary>
    public ModelConfig Clone() => JsonSerializer.Deserialize<ModelConfig>(JsonSerializer.Serialize(this, JsonOptions), JsonOptions)!;
}
