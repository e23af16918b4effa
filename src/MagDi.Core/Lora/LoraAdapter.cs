using System.Text.Json;
using System.Text.Json.Nodes;
using MagDi.IO;
using MagDi.Modeling;
using MagDi.SafeTensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Lora;

/// <summary>
/// LoRA adapters attached to a <see cref="CausalLanguageModel"/>: which layers are wrapped, their trainable
/// parameters, merge/unmerge, and save/load in the PEFT layout (<c>adapter_config.json</c> +
/// <c>adapter_model.safetensors</c> with keys <c>base_model.model.&lt;module path&gt;.lora_A.weight</c>).
/// </summary>
/// <example>
/// <code>
/// var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 16, Alpha = 32 });
/// var optimizer = torch.optim.AdamW(adapter.TrainableParameters, lr: 2e-4);
/// // ... train ...
/// adapter.Save("out/adapter");                 // loads in Python with PeftModel.from_pretrained
/// adapter.MergeAndSave("out/merged");          // a plain HF checkpoint with the update folded in
/// </code>
/// </example>
public sealed class LoraAdapter
{
    /// <summary>The key prefix PEFT puts before module paths.</summary>
    internal const string PeftPrefix = "base_model.model.";

    private LoraAdapter(CausalLanguageModel model, LoraOptions options, IReadOnlyList<(string Path, LoraLinear Layer)> layers)
    {
        Model = model;
        Options = options;
        Layers = layers;
    }

    /// <summary>The adapted model.</summary>
    public CausalLanguageModel Model { get; }

    /// <summary>The settings used.</summary>
    public LoraOptions Options { get; }

    /// <summary>Wrapped layers by module path (for example <c>model.layers.0.self_attn.q_proj</c>).</summary>
    public IReadOnlyList<(string Path, LoraLinear Layer)> Layers { get; }

    /// <summary>The trainable parameters: every lora_A and lora_B weight (f32). Everything else is frozen.</summary>
    public IReadOnlyList<Parameter> TrainableParameters => Layers.SelectMany(l => new[] { l.Layer.LoraA, l.Layer.LoraB }).ToArray();

    /// <summary>
    /// Freezes every base weight and wraps the linear layers named in <see cref="LoraOptions.TargetModules"/> with <see cref="LoraLinear"/>.
    /// </summary>
    /// <param name="model">The model to adapt (changed in place).</param>
    /// <param name="options">LoRA settings; validated.</param>
    /// <param name="seed">Seed of the A-matrix initialisation.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">Invalid options (every failure listed).</exception>
    /// <exception cref="ArgumentException">A target name that matches no layer of this model, or a model that already has adapters.</exception>
    public static LoraAdapter Apply(CausalLanguageModel model, LoraOptions options, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (model.modules().OfType<LoraLinear>().Any())
        {
            throw new ArgumentException("The model already has LoRA adapters.", nameof(model));
        }

        foreach (Parameter p in model.parameters())
        {
            p.requires_grad = false;
        }

        var targets = options.EffectiveTargetModules.ToHashSet(StringComparer.Ordinal);
        var hosts = model.named_modules().Where(m => m.module is IProjectionHost).Select(m => (m.name, Host: (IProjectionHost)m.module)).ToList();
        var available = hosts.SelectMany(h => h.Host.Projections.Select(p => p.Name)).ToHashSet(StringComparer.Ordinal);
        var unknown = targets.Where(t => !available.Contains(t)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"LoRA target module(s) {string.Join(", ", unknown)} match no layer; available: {string.Join(", ", available.Order(StringComparer.Ordinal))}.", nameof(options));
        }

        using var generator = new Generator((ulong)seed, CPU);
        var layers = new List<(string, LoraLinear)>();
        foreach (var (path, host) in hosts)
        {
            foreach (var (name, module) in host.Projections.ToList())
            {
                if (!targets.Contains(name) || module is not Linear linear)
                {
                    continue;
                }

                var lora = new LoraLinear(linear, options.Rank, options.Alpha, options.Dropout, generator);
                if (model.training)
                {
                    lora.train();
                }
                else
                {
                    lora.eval();
                }

                host.ReplaceProjection(name, lora);
                linear.Dispose();
                layers.Add(($"{path}.{name}", lora));
            }
        }

        return new LoraAdapter(model, options, layers);
    }

    /// <summary>Folds every update into its base weight (for inference without the adapter branch).</summary>
    public void Merge()
    {
        foreach (var (_, layer) in Layers)
        {
            layer.Merge();
        }
    }

    /// <summary>Takes every update back out of its base weight.</summary>
    public void Unmerge()
    {
        foreach (var (_, layer) in Layers)
        {
            layer.Unmerge();
        }
    }

    /// <summary>The adapter tensors under their PEFT keys.</summary>
    internal IEnumerable<KeyValuePair<string, Tensor>> PeftStateDict() =>
        Layers.SelectMany(l => new[]
        {
            new KeyValuePair<string, Tensor>($"{PeftPrefix}{l.Path}.lora_A.weight", l.Layer.LoraA),
            new KeyValuePair<string, Tensor>($"{PeftPrefix}{l.Path}.lora_B.weight", l.Layer.LoraB),
        });

    /// <summary>
    /// Writes <c>adapter_config.json</c> and <c>adapter_model.safetensors</c> (f32) in the PEFT layout, as one unit
    /// (<see cref="AtomicFile.WriteDirectory"/>): a kill or a full disk at any moment leaves the old adapter or the new
    /// one, and other files in the folder are kept.
    /// </summary>
    /// <param name="directory">Target folder (created when missing).</param>
    /// <param name="baseModelNameOrPath">Recorded as <c>base_model_name_or_path</c>.</param>
    public void Save(string directory, string? baseModelNameOrPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["r"] = Options.Rank,
            ["lora_alpha"] = Options.Alpha,
            ["lora_dropout"] = Options.Dropout,
            ["target_modules"] = new JsonArray(Options.EffectiveTargetModules.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["modules_to_save"] = null,
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["revision"] = null,
        };
        AtomicFile.WriteDirectory(directory, temp =>
        {
            SafeTensorsFile.Save(Path.Combine(temp, "adapter_model.safetensors"), PeftStateDict(), new Dictionary<string, string> { ["format"] = "pt" });
            AtomicFile.WriteAllText(Path.Combine(temp, "adapter_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        });
    }

    /// <summary>
    /// Reads a PEFT LoRA adapter folder, applies it to <paramref name="model"/> and loads its weights (strict: every
    /// wrapped layer needs both matrices and no other key may appear).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="NotSupportedException">A PEFT feature MagDi does not implement (DoRA, rsLoRA, bias training, regex targets, ...).</exception>
    /// <exception cref="InvalidDataException">Keys or shapes do not match the model.</exception>
    /// <exception cref="NonFiniteException">An adapter weight holds NaN or an infinity (the message names the tensors).</exception>
    public static LoraAdapter Load(CausalLanguageModel model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string configPath = Path.Combine(directory, "adapter_config.json");
        string weightsPath = Path.Combine(directory, "adapter_model.safetensors");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"'{directory}' has no adapter_config.json.", configPath);
        }

        if (!File.Exists(weightsPath))
        {
            throw new FileNotFoundException($"'{directory}' has no adapter_model.safetensors.", weightsPath);
        }

        LoraOptions options = ReadConfig(configPath);
        using SafeTensorsFile file = SafeTensorsFile.Open(weightsPath);

        // The rank sizes every LoRA matrix: compare it with the weights before allocating any (r could be 2^31 - 1).
        var ranks = file.Tensors.Values.Where(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal) && t.Shape.Count == 2).ToList();
        if (ranks.Count == 0)
        {
            throw new InvalidDataException($"'{weightsPath}' holds no LoRA weights (no '*.lora_A.weight' matrix).");
        }

        if (ranks.FirstOrDefault(t => t.Shape[0] != options.Rank) is { } other)
        {
            throw new InvalidDataException($"'{configPath}': field 'r' is {options.Rank} but '{weightsPath}' tensor '{other.Name}' has rank {other.Shape[0]}.");
        }

        LoraAdapter adapter = Apply(model, options);
        var expected = adapter.PeftStateDict().ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var missing = expected.Keys.Where(k => !file.Tensors.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = file.Tensors.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
        {
            throw new InvalidDataException(
                $"'{weightsPath}' does not match the adapter described by adapter_config.json: missing [{string.Join(", ", missing.Take(10))}], " +
                $"unexpected [{string.Join(", ", unexpected.Take(10))}] (PEFT keys look like '{PeftPrefix}model.layers.0.self_attn.q_proj.lora_A.weight').");
        }

        var nonFinite = new List<string>();
        foreach (var (key, tensor) in expected)
        {
            file.ReadInto(key, tensor);
            using var noGrad = torch.no_grad();
            if (!tensor.isfinite().all().item<bool>())
            {
                nonFinite.Add(key);
            }
        }

        if (nonFinite.Count > 0)
        {
            // Left applied, the adapter would turn into NaN logits later (or silently into nothing): refuse it, naming the tensors.
            throw new NonFiniteException(
                $"'{weightsPath}': {nonFinite.Count} adapter tensor(s) hold NaN or infinite values: {string.Join(", ", nonFinite.Take(10))}{(nonFinite.Count > 10 ? ", ..." : string.Empty)}. The adapter is damaged.")
            {
                TensorName = nonFinite[0],
                NonFiniteWeights = nonFinite.Take(10).ToList(),
            };
        }

        return adapter;
    }

    private static LoraOptions ReadConfig(string path)
    {
        // A regular file, strict UTF-8, strings checked for unpaired surrogate escapes, syntax errors with line and field.
        byte[] bytes = InputFile.ReadAllBytes(path, JsonFile.MaxConfigBytes);
        using (JsonDocument checkedJson = JsonFile.Parse($"'{path}'", bytes))
        {
            if (checkedJson.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{path}': the root must be a JSON object.");
            }
        }

        JsonObject root = JsonNode.Parse(bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes.AsSpan(3) : bytes)!.AsObject();
        try
        {
            return ReadOptions(path, root);
        }
        catch (ArgumentException ex)
        {
            // JsonObject throws this for a property that appears twice.
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    private static LoraOptions ReadOptions(string path, JsonObject root)
    {

        string? Str(string field) => root[field] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        bool Flag(string field) => root[field] is JsonValue v && v.TryGetValue(out bool b) && b;
        if (Str("peft_type") is { } peftType && peftType != "LORA")
        {
            throw new NotSupportedException($"'{path}': peft_type '{peftType}' is not supported; only LORA.");
        }

        foreach (string flag in new[] { "use_dora", "use_rslora", "fan_in_fan_out" })
        {
            if (Flag(flag))
            {
                throw new NotSupportedException($"'{path}': {flag}=true is not supported.");
            }
        }

        if (Str("bias") is { } bias && bias != "none")
        {
            throw new NotSupportedException($"'{path}': bias '{bias}' is not supported; only 'none'.");
        }

        foreach (string field in new[] { "layers_to_transform", "modules_to_save" })
        {
            if (root[field] is not null)
            {
                throw new NotSupportedException($"'{path}': {field} is not supported (must be null).");
            }
        }

        foreach (string field in new[] { "rank_pattern", "alpha_pattern" })
        {
            if (root[field] is JsonObject { Count: > 0 })
            {
                throw new NotSupportedException($"'{path}': {field} is not supported (must be empty).");
            }
        }

        try
        {
            var options = new LoraOptions
            {
                Rank = root["r"]?.GetValue<int>() ?? throw new InvalidDataException($"'{path}': missing field 'r'."),
                Alpha = root["lora_alpha"]?.GetValue<double>() ?? throw new InvalidDataException($"'{path}': missing field 'lora_alpha'."),
                Dropout = root["lora_dropout"]?.GetValue<double>() ?? 0.0,
                TargetModules = root["target_modules"] switch
                {
                    JsonArray a => a.Select(n => n?.GetValue<string>() ?? throw new InvalidDataException($"'{path}': target_modules has a null entry.")).ToList(),
                    _ => throw new NotSupportedException($"'{path}': target_modules must be a list of layer names (regular-expression targets are not supported)."),
                },
            };
            options.Validate();
            return options;
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Writes a plain Hugging Face checkpoint of base + update (W + ΔW for every wrapped layer) without changing the model.
    /// </summary>
    /// <param name="directory">Target folder.</param>
    /// <param name="dtype">On-disk dtype; null keeps the base dtype.</param>
    public void MergeAndSave(string directory, ScalarType? dtype = null)
    {
        var merged = Layers.ToDictionary(l => l.Path + ".weight", l => l.Layer, StringComparer.Ordinal);
        if (Layers.Any(l => l.Layer.IsMerged))
        {
            throw new InvalidOperationException("Unmerge the adapter before MergeAndSave (its update is already in the base weights).");
        }

        IEnumerable<KeyValuePair<string, Tensor>> Tensors()
        {
            foreach (var (key, value) in Model.BaseStateDict())
            {
                if (merged.TryGetValue(key, out LoraLinear? layer))
                {
                    using Tensor delta = layer.DeltaWeight();
                    yield return new(key, value.detach().to_type(ScalarType.Float32).Plus(delta).to_type(value.dtype));
                }
                else
                {
                    yield return new(key, value);
                }
            }
        }

        Model.SavePretrained(directory, dtype, Tensors());
    }
}
