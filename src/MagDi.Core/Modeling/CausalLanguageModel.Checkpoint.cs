using System.Globalization;
using System.Text.Json;
using MagDi.IO;
using MagDi.Runtime;
using MagDi.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

// Checkpoint I/O of CausalLanguageModel: the Hugging Face folder layout (config.json, model.safetensors or its shards).
public sealed partial class CausalLanguageModel
{
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
    internal IEnumerable<KeyValuePair<string, Tensor>> BaseStateDict() =>
        state_dict().Where(kv => !kv.Key.Contains(".lora_", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal);
}
