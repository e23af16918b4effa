using MagDi.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

/// <summary>
/// The model reads rotary cos and sin from a table of every position (<see cref="RopeTable"/>) instead of computing them
/// in each forward: the values, and so every output, must be bit for bit what the per-forward computation gives.
/// </summary>
public sealed class RopeTableTests
{
    [Theory]
    [InlineData(64, 10000.0, ScalarType.Float32)]
    [InlineData(64, 10000.0, ScalarType.BFloat16)]
    [InlineData(16, 1_000_000.0, ScalarType.Float32)]
    [InlineData(128, 500_000.0, ScalarType.Float16)]
    public void Lookup_IsBitForBitTheDirectComputation(int headDim, double theta, ScalarType dtype)
    {
        const int Positions = 2048;
        using var table = RopeTable.Create(Positions, headDim, theta, CPU, dtype);
        using var gen = new Generator(7, CPU);
        var rng = new Random(7);
        for (int trial = 0; trial < 40; trial++)
        {
            using var scope = NewDisposeScope();
            long b = rng.Next(1, 17), t = trial % 4 == 0 ? rng.Next(2, 200) : 1;
            Tensor positions = randint(0, Positions, [b, t], dtype: ScalarType.Int64, generator: gen);
            var (cos, sin) = Rope.Build(positions, headDim, theta, dtype);   // [B,1,T,hd]
            var (tableCos, tableSin) = Rope.Lookup(table, positions);
            Assert.Equal(cos.shape, tableCos.shape);
            Assert.Equal(cos.shape, new[] { b, 1, t, headDim });
            Assert.True(cos.equal(tableCos).all().item<bool>(), $"cos differs for positions [{b}, {t}]");
            Assert.True(sin.equal(tableSin).all().item<bool>(), $"sin differs for positions [{b}, {t}]");
        }
    }

    [Theory]
    [InlineData("llama", ScalarType.Float32)]
    [InlineData("mistral", ScalarType.BFloat16)]
    [InlineData("qwen2", ScalarType.Float32)]
    public void Forward_WithTable_EqualsForwardWithComputedRotary(string modelType, ScalarType dtype)
    {
        // Explicit PositionIds take the per-forward computation; none (positions from the mask) take the table.
        ModelConfig config = TestCheckpoints.Config(modelType);
        using var model = CausalLanguageModel.CreateRandom(config, 3, dtype: dtype);
        model.eval();
        using var noGrad = no_grad();
        using var gen = new Generator(11, CPU);
        using Tensor prompt = randint(2, config.VocabSize, [3, 9], dtype: ScalarType.Int64, generator: gen);
        using Tensor mask = ones([3, 9], dtype: ScalarType.Int64);
        mask[1, TensorIndex.Slice(0, 3)] = 0;                                // left padding, as batched generation has
        mask[2, TensorIndex.Slice(0, 5)] = 0;
        using var tableCache = KvCache.Create(model, 3, 16);
        using var computedCache = KvCache.Create(model, 3, 16);
        Tensor Positions(Tensor m) => (m.cumsum(-1) - 1).clamp_min(0).narrow(1, m.shape[1] - 1, 1);

        using var scope = NewDisposeScope();
        Tensor byTable = model.call(new CausalLMInput(prompt, mask, tableCache)).Logits;
        Tensor byComputed = model.call(new CausalLMInput(prompt, mask, computedCache,
            PositionIds: (mask.cumsum(-1) - 1).clamp_min(0))).Logits;
        Assert.True(byTable.equal(byComputed).all().item<bool>(), "prefill logits differ");
        Tensor stepMask = mask;
        for (int step = 0; step < 4; step++)                                  // decoding steps, CPU kernels included
        {
            Tensor next = byTable.narrow(1, byTable.shape[1] - 1, 1).argmax(-1);   // [3,1]
            stepMask = cat([stepMask, ones([3, 1], dtype: ScalarType.Int64)], 1);
            byTable = model.call(new CausalLMInput(next, stepMask, tableCache)).Logits;
            byComputed = model.call(new CausalLMInput(next, stepMask, computedCache, PositionIds: Positions(stepMask))).Logits;
            Assert.True(byTable.equal(byComputed).all().item<bool>(), $"decoding step {step} logits differ");
        }
    }

    [Fact]
    public void Table_GrowsWhenALongerForwardComes()
    {
        // The table starts at 1024 positions; a 1,300-token forward after a short one must read positions beyond it.
        ModelConfig config = TestCheckpoints.Config("llama");
        config.MaxPositionEmbeddings = 4096;
        using var model = CausalLanguageModel.CreateRandom(config, 9);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var gen = new Generator(13, CPU);
        model.call(new CausalLMInput(tensor(new long[] { 1, 7, 9 }, [1, 3])));
        Tensor ids = randint(2, config.VocabSize, [1, 1300], dtype: ScalarType.Int64, generator: gen);
        Tensor byTable = model.call(new CausalLMInput(ids, LogitsToKeep: 8)).Logits;
        Tensor byComputed = model.call(new CausalLMInput(ids, PositionIds: arange(0, 1300, dtype: ScalarType.Int64).unsqueeze(0), LogitsToKeep: 8)).Logits;
        Assert.True(byTable.equal(byComputed).all().item<bool>(), "positions past the first table differ");
    }

    [Fact]
    public void Table_FollowsTheModelToAnotherDtype_AndIsNotInTheStateDict()
    {
        ModelConfig config = TestCheckpoints.Config("llama");
        using var model = CausalLanguageModel.CreateRandom(config, 5);
        string[] keysBefore = [.. model.state_dict().Keys];
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Tensor ids = tensor(new long[] { 1, 7, 9, 4, 30, 2 }, [1, 6]);
        model.call(new CausalLMInput(ids));                                   // builds the float32 table

        model.to(ScalarType.BFloat16);
        Tensor byTable = model.call(new CausalLMInput(ids)).Logits;
        Tensor byComputed = model.call(new CausalLMInput(ids, PositionIds: arange(0, 6, dtype: ScalarType.Int64).unsqueeze(0))).Logits;
        Assert.Equal(ScalarType.BFloat16, byTable.dtype);
        Assert.True(byTable.equal(byComputed).all().item<bool>(), "after the move to bf16 the table still served float32 values");
        Assert.Equal(keysBefore, model.state_dict().Keys);
    }
}
