using System.Text.Json.Nodes;
using MagDi.Modeling;
using MagDi.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

public sealed class CheckpointTests
{
    [Theory]
    [InlineData("llama", ScalarType.Float32)]
    [InlineData("mistral", ScalarType.BFloat16)]
    [InlineData("qwen2", ScalarType.Float16)]
    public void SaveThenLoad_RoundTripsWeightsAndConfig(string modelType, ScalarType onDisk)
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model(modelType);
        model.SavePretrained(dir, onDisk);

        using var header = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.All(header.Tensors.Values, t => Assert.Equal(SafeTensorsFile.ToDTypeCode(onDisk), t.DType));
        Assert.Equal("pt", header.Metadata["format"]);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(modelType, (string?)config["model_type"]);
        Assert.NotNull(config["architectures"]);

        using var loaded = CausalLanguageModel.FromPretrained(dir);
        Assert.Equal(ScalarType.Float32, loaded.DType);
        var expected = model.state_dict();
        foreach (var (key, value) in loaded.state_dict())
        {
            using Tensor rounded = expected[key].to_type(onDisk).to_type(ScalarType.Float32);
            TestCheckpoints.AssertClose(rounded, value, 0, key);
        }

        using var bf16 = CausalLanguageModel.FromPretrained(dir, new ModelLoadOptions { DType = ScalarType.BFloat16 });
        Assert.All(bf16.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.Equal(model.Config.TieWordEmbeddings, bf16.Config.TieWordEmbeddings);
        Assert.Equal(model.Config.SlidingWindow, bf16.Config.SlidingWindow);
    }

    [Fact]
    public void FromPretrained_NaNOrInfiniteWeights_AreRefusedNamingTheTensors()
    {
        string dir = TestCheckpoints.TempDir();
        using (var model = TestCheckpoints.Model("llama"))
        {
            using (no_grad())
            {
                model.state_dict()["model.layers.0.self_attn.q_proj.weight"][0, 1] = tensor(float.NaN);
                model.state_dict()["model.norm.weight"].fill_(float.NegativeInfinity);
            }

            model.SavePretrained(dir);
        }

        var error = Assert.Throws<NonFiniteException>(() => CausalLanguageModel.FromPretrained(dir));

        Assert.Contains("2 weight tensor(s) hold NaN or infinite values", error.Message, StringComparison.Ordinal);
        Assert.Contains(dir, error.Message, StringComparison.Ordinal);
        Assert.Equal(["model.layers.0.self_attn.q_proj.weight", "model.norm.weight"], error.NonFiniteWeights.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ShardedIndex_LoadsEveryShard()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("llama");
        model.Config.Save(Path.Combine(dir, "config.json"));
        var all = model.BaseStateDict().ToList();
        var weightMap = new JsonObject();
        for (int shard = 0; shard < 3; shard++)
        {
            string file = $"model-{shard + 1:00000}-of-00003.safetensors";
            var part = all.Where((_, i) => i % 3 == shard).ToList();
            SafeTensorsFile.Save(Path.Combine(dir, file), part.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to_type(ScalarType.BFloat16))));
            foreach (var (key, _) in part)
            {
                weightMap[key] = file;
            }
        }

        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 1 }, ["weight_map"] = weightMap }.ToJsonString());
        using var loaded = CausalLanguageModel.FromPretrained(dir);
        foreach (var (key, value) in all)
        {
            TestCheckpoints.AssertClose(value.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32), loaded.state_dict()[key], 0, key);
        }
    }

    [Fact]
    public void StrictLoading_ListsMissingAndUnexpectedKeys_NonStrictLoadsTheRest()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("llama");
        model.Config.Save(Path.Combine(dir, "config.json"));
        var tensors = model.BaseStateDict().Where(kv => kv.Key != "model.layers.1.mlp.up_proj.weight").ToList();
        tensors.Add(new("model.layers.9.self_attn.rotary_emb.inv_freq", zeros(8)));
        SafeTensorsFile.Save(Path.Combine(dir, "model.safetensors"), tensors);

        var error = Assert.Throws<CheckpointKeyMismatchException>(() => CausalLanguageModel.FromPretrained(dir));
        Assert.Equal(["model.layers.1.mlp.up_proj.weight"], error.MissingKeys);
        Assert.Equal(["model.layers.9.self_attn.rotary_emb.inv_freq"], error.UnexpectedKeys);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", error.Message);
        Assert.Contains("rotary_emb.inv_freq", error.Message);

        using var lenient = CausalLanguageModel.FromPretrained(dir, new ModelLoadOptions { Strict = false });
        TestCheckpoints.AssertClose(model.state_dict()["model.norm.weight"], lenient.state_dict()["model.norm.weight"], 0, "norm");
        Tensor kept = lenient.state_dict()["model.layers.1.mlp.up_proj.weight"];
        Assert.True(kept.isfinite().all().item<bool>() && kept.std().item<float>() is > 0.01f and < 0.03f, "a missing weight keeps its N(0, 0.02) initialisation");
    }

    [Fact]
    public void Loading_RejectsWrongShapesAndMissingFiles()
    {
        string dir = TestCheckpoints.TempDir();
        Assert.Throws<FileNotFoundException>(() => CausalLanguageModel.FromPretrained(dir));
        using var model = TestCheckpoints.Model("llama");
        model.Config.Save(Path.Combine(dir, "config.json"));
        Assert.Throws<FileNotFoundException>(() => CausalLanguageModel.FromPretrained(dir));
        var tensors = model.BaseStateDict().Select(kv => kv.Key == "model.norm.weight" ? new KeyValuePair<string, Tensor>(kv.Key, zeros(7)) : kv);
        SafeTensorsFile.Save(Path.Combine(dir, "model.safetensors"), tensors);
        var error = Assert.Throws<InvalidDataException>(() => CausalLanguageModel.FromPretrained(dir));
        Assert.Contains("model.norm.weight", error.Message);
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","vocab_size":10}""", "model_type 'gpt2'")]
    [InlineData("""{"model_type":"llama","rope_scaling":{"type":"linear","factor":2.0}}""", "rope_scaling")]
    [InlineData("""{"model_type":"llama","hidden_act":"gelu"}""", "hidden_act")]
    [InlineData("""{"model_type":"qwen2","use_sliding_window":true,"sliding_window":4}""", "use_sliding_window")]
    public void UnsupportedConfig_FailsWithClearMessage(string json, string expected)
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<NotSupportedException>(() => ModelConfig.Load(path));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void InvalidConfig_ListsEveryProblemAndNamesTheFile()
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "config.json");
        File.WriteAllText(path, """{"model_type":"llama","hidden_size":30,"num_attention_heads":4,"num_key_value_heads":3,"vocab_size":0,"intermediate_size":64,"num_hidden_layers":2}""");
        var error = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("vocab_size", error.Message);
        Assert.Contains("not divisible", error.Message);
        Assert.Contains("multiple of num_key_value_heads", error.Message);
        File.WriteAllText(path, """{"model_type":"llama","hidden_size":"big","vocab_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":1}""");
        Assert.Contains("hidden_size", Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path)).Message);
    }

    [Fact]
    public void Config_ReadsHuggingFaceFieldsAndKeepsUnknownOnes()
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "config.json");
        File.WriteAllText(path, """
            {"architectures":["MistralForCausalLM"],"model_type":"mistral","vocab_size":32000,"hidden_size":4096,"intermediate_size":14336,
             "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_theta":1000000.0,
             "sliding_window":null,"max_position_embeddings":32768,"tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":2,
             "torch_dtype":"bfloat16","transformers_version":"4.42.0","rope_scaling":null}
            """);
        ModelConfig c = ModelConfig.Load(path);
        Assert.Equal(8, c.KeyValueHeads);
        Assert.Equal(128, c.EffectiveHeadDim);
        Assert.Null(c.EffectiveSlidingWindow);
        Assert.Equal([2], c.EosTokenIds);
        ModelConfig copy0 = c.Clone();
        copy0.SetEosTokenId(7);
        Assert.Equal([7], copy0.EosTokenIds);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal(7_241_732_096, c.ParameterCount()); // Mistral-7B
        string copy = Path.Combine(TestCheckpoints.TempDir(), "config.json");
        c.Save(copy);
        Assert.Contains("transformers_version", File.ReadAllText(copy));
    }

    [Fact]
    public void SafeTensors_RejectsMalformedHeadersWithFileAndField()
    {
        string dir = TestCheckpoints.TempDir();
        string path = Path.Combine(dir, "bad.safetensors");
        void Write(string header, int dataBytes)
        {
            byte[] json = System.Text.Encoding.UTF8.GetBytes(header);
            using var f = File.Create(path);
            f.Write(BitConverter.GetBytes((long)json.Length));
            f.Write(json);
            f.Write(new byte[dataBytes]);
        }

        Write("""{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 16);
        var e1 = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("'a'", e1.Message);
        Assert.Contains("data_offsets", e1.Message);
        Write("""{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", 2);
        Assert.Contains("dtype", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message);
        Write("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8);
        Assert.Contains("outside", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message);
        Write("{not json", 0);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
    }

    [Fact]
    public void SafeTensors_RoundTripsEveryDTypeAndMetadata()
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "x.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 5),
            ["bf16"] = randn(4).to_type(ScalarType.BFloat16),
            ["f16"] = randn(2, 2).to_type(ScalarType.Float16),
            ["i64"] = tensor(new long[] { 1, -2, 3 }),
            ["scalar"] = tensor(2.5f),
            ["strided"] = randn(4, 6).t(),
        };
        SafeTensorsFile.Save(path, tensors, new Dictionary<string, string> { ["note"] = "hi" });
        Assert.Equal(0, (new FileInfo(path).Length - 8 - tensors.Values.Sum(t => t.numel() * t.ElementSize)) % 8);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("hi", file.Metadata["note"]);
        foreach (var (name, t) in tensors)
        {
            using Tensor back = file.Read(name);
            Assert.Equal(t.dtype, back.dtype);
            Assert.True(t.contiguous().equal(back).all().item<bool>(), name);
        }
    }
}
