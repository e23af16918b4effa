using System.Text.Json.Nodes;
using MagDi.Core.Tests.Modeling;
using MagDi.Lora;
using MagDi.Modeling;
using MagDi.SafeTensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Lora;

/// <summary>Dropout draws from torch's global generator, so these tests must not share the process with parallel ones.</summary>
[CollectionDefinition(nameof(GlobalTorchRandomState), DisableParallelization = true)]
public sealed class GlobalTorchRandomState
{
}

[Collection(nameof(GlobalTorchRandomState))]
public sealed class LoraAdapterTests
{
    private static void Randomize(LoraAdapter adapter, long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (Parameter p in adapter.TrainableParameters)
        {
            using Tensor noise = normal(0, 0.05, p.shape, generator: generator);
            p.copy_(noise);
        }
    }

    [Fact]
    public void Apply_WrapsTargetsFreezesBaseAndStartsAsExactNoOp()
    {
        using var model = TestCheckpoints.Model("llama");
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, 1);
        using var noGrad = no_grad();
        Tensor before = model.call(new CausalLMInput(ids)).Logits.clone();
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8 });

        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"], adapter.Layers.Select(l => l.Path));
        Assert.Equal(8, adapter.TrainableParameters.Count);
        Assert.All(adapter.TrainableParameters, p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.Equal(adapter.TrainableParameters.Count, model.parameters().Count(p => p.requires_grad));
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", keys);
        Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.weight", keys);
        Assert.Contains("model.layers.1.self_attn.v_proj.lora_B.weight", keys);
        Assert.Equal([4, 32], model.state_dict()["model.layers.0.self_attn.q_proj.lora_A.weight"].shape);
        Assert.Equal(0, model.state_dict()["model.layers.0.self_attn.q_proj.lora_B.weight"].abs().sum().item<float>());
        double bound = 1 / Math.Sqrt(32);
        Tensor a = adapter.Layers[0].Layer.LoraA;
        Assert.True(a.abs().max().item<float>() <= bound && a.abs().max().item<float>() > bound / 2);
        TestCheckpoints.AssertClose(before, model.call(new CausalLMInput(ids)).Logits, 0, "no-op adapter");
    }

    [Fact]
    public void Options_AreValidatedAndUnknownTargetsRejected()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => new LoraOptions { Rank = 0, Alpha = -1, Dropout = 1, TargetModules = [] }.Validate());
        Assert.Equal(typeof(LoraOptions), error.OptionsType);
        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("Rank", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Alpha", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Dropout", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("TargetModules", StringComparison.Ordinal));
        using var model = TestCheckpoints.Model("llama");
        var unknown = Assert.Throws<ArgumentException>(() => LoraAdapter.Apply(model, new LoraOptions { TargetModules = ["query"] }));
        Assert.Contains("query", unknown.Message);
        Assert.Contains("q_proj", unknown.Message);
    }

    [Theory]
    [InlineData("llama", ScalarType.Float32)]
    [InlineData("qwen2", ScalarType.BFloat16)]
    public void Merge_EqualsUnmergedForward_AndUnmergeRestores(string modelType, ScalarType dtype)
    {
        using var model = TestCheckpoints.Model(modelType, dtype: dtype);
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 16, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
        Randomize(adapter, 2);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, 3);
        using var noGrad = no_grad();
        Tensor original = model.state_dict()["model.layers.0.mlp.up_proj.weight"].clone();
        Tensor unmerged = model.call(new CausalLMInput(ids)).Logits.to_type(ScalarType.Float32);
        adapter.Merge();
        Tensor merged = model.call(new CausalLMInput(ids)).Logits.to_type(ScalarType.Float32);
        double tolerance = dtype == ScalarType.Float32 ? 1e-5 : 0.1;
        TestCheckpoints.AssertClose(unmerged, merged, tolerance, "merged vs unmerged");
        Assert.True((unmerged - merged).abs().max().item<float>() < (unmerged.abs().max().item<float>() * 0.05));
        adapter.Unmerge();
        TestCheckpoints.AssertClose(original, model.state_dict()["model.layers.0.mlp.up_proj.weight"], dtype == ScalarType.Float32 ? 1e-6 : 0.02, "unmerged weight");
        Assert.Throws<InvalidOperationException>(adapter.Unmerge);
    }

    [Fact]
    public void Merge_RefusesNaNUpdates()
    {
        using var model = TestCheckpoints.Model("llama");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 2 });
        using (no_grad())
        {
            adapter.Layers[1].Layer.LoraB[0, 0] = float.NaN;
        }

        Tensor weightBefore = adapter.Layers[1].Layer.Weight.clone();
        Assert.Throws<InvalidOperationException>(() => adapter.Layers[1].Layer.Merge());
        Assert.True(weightBefore.equal(adapter.Layers[1].Layer.Weight).all().item<bool>());
    }

    [Fact]
    public void Load_AdapterWithNaN_IsRefusedNamingTheTensor()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("mistral");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "v_proj"] });
        using (no_grad())
        {
            adapter.Layers[1].Layer.LoraB.fill_(float.PositiveInfinity);
        }

        adapter.Save(dir);

        using var fresh = TestCheckpoints.Model("mistral");
        var error = Assert.Throws<NonFiniteException>(() => LoraAdapter.Load(fresh, dir));
        Assert.Contains("adapter_model.safetensors", error.Message, StringComparison.Ordinal);
        Assert.Single(error.NonFiniteWeights);
        Assert.EndsWith(".lora_B.weight", error.TensorName, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveThenLoad_UsesPeftLayoutAndRoundTrips()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("mistral");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 3, Alpha = 6, Dropout = 0.1, TargetModules = ["q_proj", "v_proj", "down_proj"] });
        Randomize(adapter, 4);
        adapter.Save(dir, "tiny-mistral");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!;
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal(3, (int)config["r"]!);
        Assert.Equal(6.0, (double)config["lora_alpha"]!);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
        {
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", file.Tensors.Keys);
            Assert.Contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", file.Tensors.Keys);
            Assert.Equal(12, file.Tensors.Count);
            Assert.All(file.Tensors.Values, t => Assert.Equal("F32", t.DType));
        }

        using var fresh = TestCheckpoints.Model("mistral");
        var loaded = LoraAdapter.Load(fresh, dir);
        Assert.Equal(0.1, loaded.Options.Dropout);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 1, 7, 5);
        using var noGrad = no_grad();
        TestCheckpoints.AssertClose(model.call(new CausalLMInput(ids)).Logits, fresh.call(new CausalLMInput(ids)).Logits, 0, "reloaded adapter");
    }

    [Fact]
    public void Load_RejectsUnsupportedPeftFeaturesAndWrongKeys()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("llama");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 2 });
        adapter.Save(dir);
        string configPath = Path.Combine(dir, "adapter_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["use_dora"] = true;
        File.WriteAllText(configPath, config.ToJsonString());
        using (var m = TestCheckpoints.Model("llama"))
        {
            Assert.Contains("use_dora", Assert.Throws<NotSupportedException>(() => LoraAdapter.Load(m, dir)).Message);
        }

        config["use_dora"] = false;
        config["target_modules"] = "q_proj|v_proj";
        File.WriteAllText(configPath, config.ToJsonString());
        using (var m = TestCheckpoints.Model("llama"))
        {
            Assert.Contains("target_modules", Assert.Throws<NotSupportedException>(() => LoraAdapter.Load(m, dir)).Message);
        }

        config["target_modules"] = new JsonArray("q_proj", "v_proj", "k_proj");
        File.WriteAllText(configPath, config.ToJsonString());
        using (var m = TestCheckpoints.Model("llama"))
        {
            var error = Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(m, dir));
            Assert.Contains("k_proj.lora_A.weight", error.Message);
        }
    }

    [Fact]
    public void MergeAndSave_WritesAPlainCheckpointEqualToTheAdaptedModel()
    {
        string dir = TestCheckpoints.TempDir();
        using var model = TestCheckpoints.Model("qwen2");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, TargetModules = ["q_proj", "up_proj"] });
        Randomize(adapter, 6);
        adapter.MergeAndSave(dir);
        Assert.False(adapter.Layers[0].Layer.IsMerged);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            Assert.DoesNotContain(file.Tensors.Keys, k => k.Contains("lora", StringComparison.Ordinal));
        }

        using var merged = CausalLanguageModel.FromPretrained(dir);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 5, 7);
        using var noGrad = no_grad();
        TestCheckpoints.AssertClose(model.call(new CausalLMInput(ids)).Logits, merged.call(new CausalLMInput(ids)).Logits, 1e-5, "merged export");
    }

    [Fact]
    public void Training_OnlyAdapterGetsGradients_DropoutOnlyInTrainingMode_CheckpointingMatches()
    {
        using var model = TestCheckpoints.Model("llama");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Dropout = 0.3 });
        Randomize(adapter, 8);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, 9);
        model.eval();
        using (no_grad())
        {
            TestCheckpoints.AssertClose(model.call(new CausalLMInput(ids)).Logits, model.call(new CausalLMInput(ids)).Logits, 0, "eval is deterministic");
        }

        model.train();
        List<Tensor> Grads(bool checkpoint)
        {
            model.GradientCheckpointing = checkpoint;
            model.zero_grad();
            manual_seed(123);
            model.call(new CausalLMInput(ids)).Logits.pow(2).mean().backward();
            return adapter.TrainableParameters.Select(p => p.grad!.clone()).ToList();
        }

        var plain = Grads(false);
        var checkpointed = Grads(true);
        for (int i = 0; i < plain.Count; i++)
        {
            Assert.True(plain[i].abs().sum().item<float>() > 0, $"adapter parameter {i} got no gradient");
            TestCheckpoints.AssertClose(plain[i], checkpointed[i], 1e-7, $"adapter grad {i} with dropout");
        }

        Assert.All(model.parameters().Where(p => !p.requires_grad), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
    }

    [Fact]
    public void Training_OnADeviceWhoseGeneratorCannotBeSaved_ReseedingGivesCheckpointedGradientsEqualToPlain()
    {
        // CUDA's generator cannot be saved through TorchSharp, so layers there are seeded from the CPU generator and the
        // recomputation reseeds. Here the CPU plays such a device: its state is then NOT restored for the recomputation,
        // so equal gradients show that reseeding alone reproduces the dropout masks.
        using var model = TestCheckpoints.Model("llama");
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Dropout = 0.5 });
        Randomize(adapter, 8);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, 9);
        model.train();
        var seeds = new List<long>();
        List<Tensor> Grads(bool checkpoint, bool reseedInBackward = true)
        {
            using var device = LayerRandomness.OverrideForTests(_ => true, seed =>
            {
                seeds.Add(seed);
                manual_seed(reseedInBackward || !is_grad_enabled() || seeds.Count <= model.Config.NumHiddenLayers ? seed : seed + 1);
            });
            model.GradientCheckpointing = checkpoint;
            model.zero_grad();
            seeds.Clear();
            manual_seed(123);
            model.call(new CausalLMInput(ids)).Logits.pow(2).mean().backward();
            return adapter.TrainableParameters.Select(p => p.grad!.clone()).ToList();
        }

        var plain = Grads(false);
        Assert.Equal(model.Config.NumHiddenLayers, seeds.Count); // one seed per layer, no recomputation
        var checkpointed = Grads(true);
        Assert.Equal(2 * model.Config.NumHiddenLayers, seeds.Count); // and once more per layer in the backward
        for (int i = 0; i < plain.Count; i++)
        {
            Assert.True(plain[i].abs().sum().item<float>() > 0, $"adapter parameter {i} got no gradient");
            TestCheckpoints.AssertClose(plain[i], checkpointed[i], 1e-7, $"adapter grad {i} with reseeded dropout");
        }

        // Control: had the recomputation drawn other masks, the gradients would differ.
        var otherMasks = Grads(true, reseedInBackward: false);
        Assert.Contains(Enumerable.Range(0, plain.Count), i => (plain[i] - otherMasks[i]).abs().max().item<float>() > 1e-4);
    }
}
