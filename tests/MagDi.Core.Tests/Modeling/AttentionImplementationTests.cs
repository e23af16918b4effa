using MagDi.Lora;
using MagDi.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

/// <summary>Eager attention (Hugging Face's eager path) against the fused kernel, and the automatic choice between them.</summary>
public sealed class AttentionImplementationTests
{
    public static TheoryData<string> ModelTypes => new() { "llama", "mistral", "qwen2" };

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void Eager_MatchesTheIndependentReference(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        model.AttentionImplementation = AttentionImplementation.Eager;
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 1, 11, seed: 3);   // mistral: 11 > window 5
        using var noGrad = no_grad();
        Tensor expected = ReferenceDecoder.Logits(model.Config, model.state_dict(), ids[0].data<long>().ToArray());
        TestCheckpoints.AssertClose(expected, model.call(new CausalLMInput(ids)).Logits[0], 2e-5, $"{modelType} eager logits");
    }

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void Eager_EqualsSdpa_WithLeftPaddingAndWithAPrefilledCache(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 9, seed: 4);
        using Tensor mask = ones([2, 9], ScalarType.Int64);
        mask[0].narrow(0, 0, 3).fill_(0);                                                    // row 0 left-padded by 3
        using var noGrad = no_grad();
        (Tensor Padded, Tensor Chunked) Run(AttentionImplementation implementation)
        {
            model.AttentionImplementation = implementation;
            Tensor padded = model.call(new CausalLMInput(ids, mask)).Logits;
            // Prefill 4 tokens, then 5 more in one call: several queries over a non-empty cache.
            using var cache = KvCache.Create(model, 2, 16);
            model.call(new CausalLMInput(ids.narrow(1, 0, 4), Cache: cache));
            Tensor chunked = model.call(new CausalLMInput(ids.narrow(1, 4, 5), Cache: cache)).Logits;
            return (padded, chunked);
        }

        var sdpa = Run(AttentionImplementation.Sdpa);
        var eager = Run(AttentionImplementation.Eager);
        // Padding positions are not compared: their rows differ by design (they attend to themselves only).
        TestCheckpoints.AssertClose(sdpa.Padded[0].narrow(0, 3, 6), eager.Padded[0].narrow(0, 3, 6), 1e-5, $"{modelType} padded row");
        TestCheckpoints.AssertClose(sdpa.Padded[1], eager.Padded[1], 1e-5, $"{modelType} full row");
        TestCheckpoints.AssertClose(sdpa.Chunked, eager.Chunked, 1e-5, $"{modelType} chunked prefill");
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("mistral", true)]
    public void Eager_GivesTheSdpaGradients_WithAndWithoutCheckpointing(string modelType, bool checkpoint)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 8, seed: 5);
        model.train();
        model.GradientCheckpointing = checkpoint;
        Dictionary<string, Tensor> Grads(AttentionImplementation implementation)
        {
            model.AttentionImplementation = implementation;
            model.zero_grad();
            model.call(new CausalLMInput(ids)).Logits.pow(2).mean().backward();
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }

        var sdpa = Grads(AttentionImplementation.Sdpa);
        var eager = Grads(AttentionImplementation.Eager);
        foreach (var (name, g) in sdpa)
        {
            TestCheckpoints.AssertClose(g, eager[name], 1e-6, $"grad {name}");
        }

        Assert.True(sdpa["model.layers.0.self_attn.k_proj.weight"].abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Auto_IsEagerOnlyForHalfPrecisionOnTheCpuWithFewScores()
    {
        Device cpu = CPU;
        long limit = AttentionKernel.EagerScoreLimit;
        Assert.True(AttentionKernel.UseEager(AttentionImplementation.Auto, cpu, ScalarType.BFloat16, 8 * 6 * 256 * 256));
        Assert.True(AttentionKernel.UseEager(AttentionImplementation.Auto, cpu, ScalarType.Float16, limit));
        Assert.False(AttentionKernel.UseEager(AttentionImplementation.Auto, cpu, ScalarType.BFloat16, limit + 1));
        Assert.False(AttentionKernel.UseEager(AttentionImplementation.Auto, cpu, ScalarType.Float32, 16));
        Assert.False(AttentionKernel.UseEager(AttentionImplementation.Auto, new Device(DeviceType.CUDA, 0), ScalarType.BFloat16, 16));
        Assert.True(AttentionKernel.UseEager(AttentionImplementation.Eager, cpu, ScalarType.Float32, limit * 4));
        Assert.False(AttentionKernel.UseEager(AttentionImplementation.Sdpa, cpu, ScalarType.BFloat16, 16));
    }

    [Fact]
    public void BFloat16_AutoEagerStaysCloseToSdpa()
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 12, seed: 6);
        using var noGrad = no_grad();
        Tensor auto = model.call(new CausalLMInput(ids)).Logits;                              // tiny: Auto picks eager
        model.AttentionImplementation = AttentionImplementation.Sdpa;
        Tensor sdpa = model.call(new CausalLMInput(ids)).Logits;
        TestCheckpoints.AssertClose(sdpa, auto, 0.05, "bf16 eager vs sdpa logits");
        Assert.False(auto.equal(sdpa).all().item<bool>(), "the two paths round differently, so this compares two computations");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BFloat16_LoraTraining_AutoEagerGivesTheSdpaLossAndGradientsWithinBf16Rounding(bool leftPadded)
    {
        // Auto picks the bf16 eager attention here (tiny scores); libtorch's fused kernel (float32 inside) is the
        // independent reference. Both round to bf16 at different points, so they agree to a few bf16 roundings.
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = ["q_proj", "v_proj"] });
        using (var generator = new Generator(9, CPU))
        using (no_grad())
        {
            foreach (var p in adapter.TrainableParameters)
            {
                p.copy_(normal(0, 0.05, p.shape, generator: generator));                      // B nonzero: A gets gradients too
            }
        }

        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 12, seed: 7);
        using Tensor mask = ones([2, 12], ScalarType.Int64);
        mask[1].narrow(0, 0, 3).fill_(0);
        using Tensor targets = ids.narrow(1, 4, 8).flatten();                                 // positions 3..10 predict 4..11
        model.train();
        (float Loss, List<Tensor> Grads) Step(AttentionImplementation implementation)
        {
            model.AttentionImplementation = implementation;
            model.zero_grad();
            Tensor logits = model.call(new CausalLMInput(ids, leftPadded ? mask : null)).Logits.narrow(1, 3, 8).flatten(0, 1);
            using Tensor loss = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), targets);
            loss.backward();
            return (loss.item<float>(), adapter.TrainableParameters.Select(p => p.grad!.clone()).ToList());
        }

        var sdpa = Step(AttentionImplementation.Sdpa);
        var auto = Step(AttentionImplementation.Auto);
        Assert.InRange(auto.Loss, sdpa.Loss * 0.995, sdpa.Loss * 1.005);
        for (int i = 0; i < sdpa.Grads.Count; i++)
        {
            using Tensor e = sdpa.Grads[i].to_type(ScalarType.Float64), a = auto.Grads[i].to_type(ScalarType.Float64);
            double norm = e.norm().item<double>(), error = (a - e).norm().item<double>() / norm;
            Assert.True(norm > 0, $"adapter parameter {i} got no gradient");
            Assert.True(error <= 0.03, $"adapter grad {i}: relative error {error:G3} > 0.03");
        }
    }
}
