using System.Diagnostics;
using System.Text.Json.Nodes;
using MagDi.Core.Tests.Modeling;
using MagDi.Lora;
using MagDi.Modeling;
using MagDi.SafeTensors;
using MagDi.Testing;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Hostile model folders (issue 15): config.json files claiming a million layers or a vocabulary of 2^31 - 1, missing
/// or mistyped fields, sizes that do not match the weights, LoRA ranks near 2^31 and FIFOs.
/// Each is an <see cref="InvalidDataException"/> (or the documented key-mismatch exception) naming the file and the
/// field, raised before anything is allocated.
/// </summary>
public sealed class HostileModelInputTests
{
    /// <summary>A valid tiny llama checkpoint folder whose config.json is then edited.</summary>
    private static string Checkpoint(Action<JsonObject> edit)
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("llama");
        model.SavePretrained(dir);
        string configPath = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        edit(json);
        File.WriteAllText(configPath, json.ToJsonString());
        return dir;
    }

    [Theory]
    [InlineData("num_hidden_layers", 1_000_000L, "num_hidden_layers must be at most 1,024 (got 1,000,000)")]
    [InlineData("vocab_size", 100_000_000L, "vocab_size must be at most 16,777,216 (got 100,000,000)")]
    [InlineData("vocab_size", 2_147_483_647L, "vocab_size must be at most 16,777,216 (got 2,147,483,647)")]
    [InlineData("intermediate_size", 2_147_483_647L, "intermediate_size must be at most 1,048,576 (got 2,147,483,647)")]
    public void Config_HugeSizes_AreRejectedBeforeAllocatingNamingTheField(string field, long value, string expected)
    {
        string dir = Checkpoint(c => c[field] = value);
        var watch = Stopwatch.StartNew();

        var ex = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir));

        Assert.StartsWith($"'{Path.Combine(dir, "config.json")}': Invalid model config (llama): ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Config_VocabSizeAsAFloatLiteral_NamesTheFieldAndWhatWasExpected()
    {
        string dir = TestCheckpoints.TempDir();
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, "{\"model_type\": \"llama\",\n \"vocab_size\": 1e8, \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 1}");

        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));

        Assert.Equal($"'{path}': field 'vocab_size' (line 2): expected an integer from -2,147,483,648 to 2,147,483,647.", ex.Message);
    }

    [Fact]
    public void Config_SizesWithinRangeButNotTheWeights_AreRejectedBeforeAllocatingNamingTensorAndFields()
    {
        string dir = Checkpoint(c => c["vocab_size"] = 16_777_216);

        var ex = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir));

        Assert.Equal(
            $"'{Path.Combine(dir, "model.safetensors")}': tensor 'model.embed_tokens.weight' has shape [61, 32] but config.json ('{Path.Combine(dir, "config.json")}': vocab_size 16777216, hidden_size 32) describes [16777216, 32].",
            ex.Message);
    }

    [Fact]
    public void Config_MoreLayersThanTheWeights_NamesNumHiddenLayers()
    {
        string dir = Checkpoint(c => c["num_hidden_layers"] = 1000);

        var ex = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir));

        Assert.Equal($"'{Path.Combine(dir, "config.json")}': field 'num_hidden_layers' is 1000 but the weights in '{dir}' hold 2 layer(s).", ex.Message);
    }

    [Fact]
    public void Config_LenientLoadOfAModelLargerThanMemory_IsRefusedBeforeAllocating()
    {
        // Lenient loading initialises missing weights, so the file does not bound the size; 1.1e12 parameters never fit.
        string dir = TestCheckpoints.TempDir();
        var config = new ModelConfig { ModelType = "llama", VocabSize = 1 << 24, HiddenSize = 32768, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 256 };
        config.Save(Path.Combine(dir, "config.json"));
        SafeTensorsFile.Save(Path.Combine(dir, "model.safetensors"), [new("model.norm.weight", ones(32768))]);

        var ex = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir, new ModelLoadOptions { Strict = false }));

        Assert.StartsWith($"'{Path.Combine(dir, "config.json")}': config.json describes {config.ParameterCount().ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} parameters (", ex.Message, StringComparison.Ordinal);
        Assert.True(config.ParameterCount() > 1_000_000_000_000L);
        Assert.Contains("GiB of memory available", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("model_type")]
    [InlineData("hidden_size")]
    public void Config_MissingField_IsNamed(string field)
    {
        string dir = Checkpoint(c => c.Remove(field));

        var ex = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir));

        Assert.StartsWith($"'{Path.Combine(dir, "config.json")}': field '{field}' is missing;", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\n  \"model_type\": llama,\n  \"vocab_size\": 8\n}", "malformed JSON at line 2, column 17 (in field 'model_type'): 'l' is an invalid start of a value.")]
    [InlineData("[1, 2]", "config.json must be a JSON object of fields, not array.")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": \"big\"}", "field 'hidden_size' (line 1): expected an integer from -2,147,483,648 to 2,147,483,647.")]
    [InlineData("{\"model_type\": \"lla\\udc00ma\"}", "line 1, field 'model_type': the string holds the escape \\udc00")]
    public void Config_MalformedFiles_NameTheFieldNotADotNetType(string content, string expected)
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "config.json");
        File.WriteAllText(path, content);

        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));

        Assert.StartsWith($"'{path}': {expected}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("MagDi.Modeling.ModelConfig", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParameterCount_OfAHostileConfig_SaturatesInsteadOfWrapping()
    {
        var config = new ModelConfig { VocabSize = int.MaxValue, HiddenSize = int.MaxValue, IntermediateSize = int.MaxValue, NumHiddenLayers = int.MaxValue, NumAttentionHeads = 1 };

        Assert.Equal(long.MaxValue, config.ParameterCount());
        Assert.Contains("vocab_size must be at most", Assert.Throws<ArgumentException>(config.Validate).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]
    [InlineData("qwen2")]
    public void ExpectedTensorShapes_AreExactlyTheModelsParameters(string modelType)
    {
        foreach (var (attentionBias, mlpBias) in new[] { (false, false), (true, true) })
        {
            var config = TestCheckpoints.Config(modelType);
            config.AttentionBias = attentionBias;
            config.MlpBias = mlpBias;
            using var model = new CausalLanguageModel(config);

            var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            var expected = config.ExpectedTensorShapes().ToDictionary(t => t.Name, t => t.Shape);

            Assert.Equal(actual.Keys.Order(StringComparer.Ordinal), expected.Keys.Order(StringComparer.Ordinal));
            Assert.All(actual, kv => Assert.Equal(kv.Value, expected[kv.Key]));
            Assert.Equal(config.ParameterCount(), expected.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
        }
    }

    [Fact]
    public void LoraAdapter_RankNear2To31_IsRejectedBeforeAllocatingNamingTheField()
    {
        string dir = TestCheckpoints.TempDir();
        using (var model = TestCheckpoints.Model("llama"))
        {
            LoraAdapter.Apply(model, new LoraOptions { Rank = 2, Alpha = 4 }).Save(dir);
        }

        string configPath = Path.Combine(dir, "adapter_config.json");
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        json["r"] = int.MaxValue;
        File.WriteAllText(configPath, json.ToJsonString());
        using var fresh = TestCheckpoints.Model("llama");

        var ex = Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(fresh, dir));

        Assert.StartsWith($"'{configPath}': field 'r' is 2147483647 but '{Path.Combine(dir, "adapter_model.safetensors")}' tensor ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("has rank 2.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("config.json")]
    [InlineData("model.safetensors")]
    public async Task FifoInAModelFolder_IsRefusedWithoutBlocking(string name)
    {
        string dir = Checkpoint(_ => { });
        string fifo = Path.Combine(dir, name);
        File.Delete(fifo);
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        var ex = await HostileFiles.CaptureWithoutBlocking(fifo, () => CausalLanguageModel.FromPretrained(dir).Dispose());

        Assert.StartsWith($"{fifo}: is not a regular file but a FIFO", Assert.IsType<InvalidDataException>(ex).Message, StringComparison.Ordinal);
    }
}
