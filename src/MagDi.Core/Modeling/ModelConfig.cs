using System.Globalization;
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
    internal static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2"];

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
    [JsonPropertyName("eos_token_id")][JsonInclude] internal JsonElement? EosTokenIdRaw { get; set; }

    /// <summary><c>pad_token_id</c>.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }

    /// <summary><c>torch_dtype</c> (informational: the dtype the checkpoint was saved in).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; }

    /// <summary>Fields of <c>config.json</c> this class does not model, kept so a save round-trips them.</summary>
    [JsonExtensionData] public IDictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>The effective number of key/value heads.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>The effective per-head dimension.</summary>
    [JsonIgnore] internal int EffectiveHeadDim => HeadDim ?? (NumAttentionHeads > 0 ? HiddenSize / NumAttentionHeads : 0);

    /// <summary>Whether q/k/v projections have biases (qwen2 always; llama when <c>attention_bias</c>).</summary>
    [JsonIgnore] internal bool QkvBias => ModelType == "qwen2" || AttentionBias == true;

    /// <summary>Whether the output projection has a bias (llama with <c>attention_bias</c>).</summary>
    [JsonIgnore] internal bool OutputBias => ModelType == "llama" && AttentionBias == true;

    /// <summary>The sliding attention window in effect, or null for full causal attention.</summary>
    [JsonIgnore]
    internal int? EffectiveSlidingWindow => ModelType switch
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

    /// <summary>The largest <c>vocab_size</c> accepted: 2^24 = 16,777,216 (the same limit as token ids in tokenizer files).</summary>
    internal const int MaxVocabSize = 1 << 24;

    /// <summary>The largest <c>hidden_size</c> accepted: 65,536.</summary>
    internal const int MaxHiddenSize = 1 << 16;

    /// <summary>The largest <c>intermediate_size</c> accepted: 1,048,576.</summary>
    internal const int MaxIntermediateSize = 1 << 20;

    /// <summary>The largest <c>num_hidden_layers</c> accepted: 1,024.</summary>
    internal const int MaxLayers = 1024;

    /// <summary>The most attention heads (and key/value heads) accepted: 1,024.</summary>
    internal const int MaxHeads = 1024;

    /// <summary>The largest <c>head_dim</c> accepted: 8,192.</summary>
    internal const int MaxHeadDim = 8192;

    /// <summary>The largest <c>max_position_embeddings</c> accepted: 2^24.</summary>
    internal const int MaxPositions = 1 << 24;

    /// <summary>The largest model accepted: 2^41 (about 2.2 trillion) parameters.</summary>
    internal const long MaxParameters = 1L << 41;

    /// <summary>The fields a <c>config.json</c> must give: there is no sensible default for them.</summary>
    private static readonly string[] RequiredFields = ["model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"];

    /// <summary>Number of parameters of the model this config describes (the tied head counted once); saturates at <see cref="long.MaxValue"/>.</summary>
    public long ParameterCount()
    {
        // Int128: a hostile config (every size 2^31 - 1) must give a huge count, not a wrapped one.
        Int128 d = HiddenSize, hd = EffectiveHeadDim, h = NumAttentionHeads, kv = KeyValueHeads, ff = IntermediateSize;
        Int128 attn = (d * h * hd) + (2 * d * kv * hd) + (h * hd * d) + (QkvBias ? (h + 2 * kv) * hd : 0) + (OutputBias ? d : 0);
        Int128 mlp = (3 * d * ff) + (MlpBias == true ? 2 * ff + d : 0);
        Int128 layer = attn + mlp + 2 * d;
        Int128 embed = VocabSize * d;
        Int128 total = embed + (NumHiddenLayers * layer) + d + (TieWordEmbeddings ? 0 : embed);
        return total > long.MaxValue ? long.MaxValue : (long)total;
    }

    /// <summary>
    /// The name and shape of every parameter of the model this config describes, in Hugging Face naming, without
    /// allocating the model: what a checkpoint's tensors are compared with before loading.
    /// </summary>
    internal IEnumerable<(string Name, long[] Shape)> ExpectedTensorShapes()
    {
        long d = HiddenSize, q = (long)NumAttentionHeads * EffectiveHeadDim, k = (long)KeyValueHeads * EffectiveHeadDim, ff = IntermediateSize;
        yield return ("model.embed_tokens.weight", [VocabSize, d]);
        for (int i = 0; i < NumHiddenLayers; i++)
        {
            string l = $"model.layers.{i}.";
            yield return (l + "input_layernorm.weight", [d]);
            yield return (l + "post_attention_layernorm.weight", [d]);
            yield return (l + "self_attn.q_proj.weight", [q, d]);
            yield return (l + "self_attn.k_proj.weight", [k, d]);
            yield return (l + "self_attn.v_proj.weight", [k, d]);
            yield return (l + "self_attn.o_proj.weight", [d, q]);
            if (QkvBias)
            {
                yield return (l + "self_attn.q_proj.bias", [q]);
                yield return (l + "self_attn.k_proj.bias", [k]);
                yield return (l + "self_attn.v_proj.bias", [k]);
            }

            if (OutputBias)
            {
                yield return (l + "self_attn.o_proj.bias", [d]);
            }

            yield return (l + "mlp.gate_proj.weight", [ff, d]);
            yield return (l + "mlp.up_proj.weight", [ff, d]);
            yield return (l + "mlp.down_proj.weight", [d, ff]);
            if (MlpBias == true)
            {
                yield return (l + "mlp.gate_proj.bias", [ff]);
                yield return (l + "mlp.up_proj.bias", [ff]);
                yield return (l + "mlp.down_proj.bias", [d]);
            }
        }

        yield return ("model.norm.weight", [d]);
        if (!TieWordEmbeddings)
        {
            yield return ("lm_head.weight", [VocabSize, d]);
        }
    }

    /// <summary>The config.json fields a parameter's shape follows from, for error messages.</summary>
    internal string FieldsShaping(string tensorName) => tensorName switch
    {
        _ when tensorName.Contains("embed_tokens", StringComparison.Ordinal) || tensorName.StartsWith("lm_head", StringComparison.Ordinal)
            => $"vocab_size {VocabSize}, hidden_size {HiddenSize}",
        _ when tensorName.Contains(".mlp.", StringComparison.Ordinal)
            => $"hidden_size {HiddenSize}, intermediate_size {IntermediateSize}",
        _ when tensorName.Contains(".self_attn.", StringComparison.Ordinal)
            => $"hidden_size {HiddenSize}, num_attention_heads {NumAttentionHeads}, num_key_value_heads {KeyValueHeads}, head_dim {EffectiveHeadDim}",
        _ => $"hidden_size {HiddenSize}",
    };

    /// <summary>
    /// Checks the configuration and throws one exception listing every problem.
    /// </summary>
    /// <exception cref="NotSupportedException">An unsupported <c>model_type</c>, <c>rope_scaling</c>, activation or sliding-window mode.</exception>
    /// <exception cref="ArgumentException">Inconsistent or out-of-range sizes.</exception>
    public void Validate()
    {
        ValidateSupported();
        ValidateSizes();
    }

    private void ValidateSupported()
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
    }

    private void ValidateSizes()
    {
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
        void AtMost(string name, long value, long max)
        {
            if (value > max)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be at most {max:N0} (got {value:N0})"));
            }
        }

        // Sane ranges, checked before anything is allocated from them (a hostile config took the machine down).
        AtMost("vocab_size", VocabSize, MaxVocabSize);
        AtMost("hidden_size", HiddenSize, MaxHiddenSize);
        AtMost("intermediate_size", IntermediateSize, MaxIntermediateSize);
        AtMost("num_hidden_layers", NumHiddenLayers, MaxLayers);
        AtMost("num_attention_heads", NumAttentionHeads, MaxHeads);
        AtMost("num_key_value_heads", KeyValueHeads, MaxHeads);
        AtMost("head_dim", EffectiveHeadDim, MaxHeadDim);
        AtMost("max_position_embeddings", MaxPositionEmbeddings, MaxPositions);
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

        if (EosTokenIdRaw is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } eos
            && !(eos.ValueKind == JsonValueKind.Number && eos.TryGetInt32(out _))
            && !(eos.ValueKind == JsonValueKind.Array && eos.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))))
        {
            errors.Add($"eos_token_id must be an integer or a list of integers (got {eos.GetRawText()})");
        }

        if (AttentionDropout is > 0)
        {
            errors.Add($"attention_dropout must be 0 (got {AttentionDropout})");
        }

        if (errors.Count == 0 && ParameterCount() > MaxParameters)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"the sizes describe {ParameterCount():N0} parameters, more than the {MaxParameters:N0} supported"));
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException($"Invalid model config ({ModelType}): {string.Join("; ", errors)}.");
        }
    }

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    /// <remarks>
    /// <c>model_type</c>, <c>vocab_size</c>, <c>hidden_size</c>, <c>intermediate_size</c>, <c>num_hidden_layers</c> and
    /// <c>num_attention_heads</c> are required; the other fields default as in <c>transformers</c>. Only a regular file is
    /// read, as strict UTF-8; sizes are range-checked (see <see cref="Validate"/>).
    /// </remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a regular file, malformed JSON, a missing, wrongly typed or out-of-range field (the message names the file and the field).</exception>
    /// <exception cref="NotSupportedException">An unsupported <c>model_type</c>, <c>rope_scaling</c>, activation or sliding-window mode.</exception>
    public static ModelConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = InputFile.ReadAllBytes(path, JsonFile.MaxConfigBytes);
        ReadOnlyMemory<byte> json = bytes.AsMemory();
        if (json.Span.StartsWith("\uFEFF"u8))
        {
            json = json[3..];
        }

        string[] missing;
        using (JsonDocument doc = JsonFile.Parse($"'{path}'", json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }))
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{path}': config.json must be a JSON object of fields, not {root.ValueKind.ToString().ToLowerInvariant()}.");
            }

            missing = [.. RequiredFields.Where(f => !root.TryGetProperty(f, out JsonElement v) || v.ValueKind == JsonValueKind.Null)];
        }

        ModelConfig config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(json.Span, JsonOptions)!;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(TypeError(path, ex), ex);
        }

        // An unsupported architecture first: that is the answer whatever else the file lacks. The file is valid, MagDi
        // lacks the feature: NotSupportedException, naming the file like every error about a file.
        try
        {
            config.ValidateSupported();
        }
        catch (NotSupportedException ex)
        {
            throw new NotSupportedException($"'{path}': {ex.Message}", ex);
        }
        if (missing.Length > 0)
        {
            throw new InvalidDataException($"'{path}': field{(missing.Length > 1 ? "s" : string.Empty)} {string.Join(", ", missing.Select(f => $"'{f}'"))} {(missing.Length > 1 ? "are" : "is")} missing; a config.json must give {string.Join(", ", RequiredFields)}.");
        }

        try
        {
            config.ValidateSizes();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }

        return config;
    }

    /// <summary>"'path': field 'vocab_size' (line 3): expected a 32-bit integer" for a value of the wrong type or range.</summary>
    private static string TypeError(string path, JsonException ex)
    {
        string field = ex.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : ex.Path ?? "(root)";
        string line = ex.LineNumber is { } l ? string.Create(CultureInfo.InvariantCulture, $" (line {l + 1})") : string.Empty;
        string message = ex.Message;
        const string Marker = "could not be converted to ";
        int at = message.IndexOf(Marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            int stop = message.IndexOf(". Path:", at, StringComparison.Ordinal);
            string type = stop > at ? message[(at + Marker.Length)..stop] : message[(at + Marker.Length)..];
            string expected = type switch
            {
                "System.Int32" => "an integer from -2,147,483,648 to 2,147,483,647",
                "System.Nullable`1[System.Int32]" => "an integer from -2,147,483,648 to 2,147,483,647, or null",
                "System.Double" => "a number",
                "System.String" => "a string",
                "System.Boolean" => "true or false",
                "System.Nullable`1[System.Boolean]" => "true, false or null",
                "System.Nullable`1[System.Double]" => "a number or null",
                "System.Collections.Generic.IList`1[System.String]" => "a list of strings",
                _ => type,
            };
            return $"'{path}': field '{field}'{line}: expected {expected}.";
        }

        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return $"'{path}': field '{field}'{line}: {(cut > 0 ? message[..cut] : message)}";
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
