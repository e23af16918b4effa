using MagDi.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

public sealed class CausalLanguageModelTests
{
    public static TheoryData<string> ModelTypes => new() { "llama", "mistral", "qwen2" };

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void Logits_MatchIndependentReference(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 1, 11, seed: 3);
        using var noGrad = no_grad();
        Tensor logits = model.call(new CausalLMInput(ids)).Logits[0];
        var weights = model.state_dict();
        Tensor expected = ReferenceDecoder.Logits(model.Config, weights, ids[0].data<long>().ToArray());
        TestCheckpoints.AssertClose(expected, logits, 2e-5, $"{modelType} logits");
    }

    [Fact]
    public void StateDictKeys_MatchHuggingFaceNames()
    {
        using var llama = TestCheckpoints.Model("llama");
        var keys = llama.state_dict().Keys.ToHashSet();
        string[] layer0 =
        [
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
            "model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
            "model.layers.0.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        ];
        Assert.Subset(keys, layer0.Concat(["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]).ToHashSet());
        Assert.Equal(3 + 2 * layer0.Length, keys.Count);
        Assert.Equal([32, 32], llama.state_dict()["model.layers.0.self_attn.q_proj.weight"].shape);
        Assert.Equal([16, 32], llama.state_dict()["model.layers.0.self_attn.k_proj.weight"].shape);
        Assert.Equal(llama.Config.ParameterCount(), llama.parameters().Sum(p => p.numel()));

        using var qwen = TestCheckpoints.Model("qwen2");
        var qwenKeys = qwen.state_dict().Keys.ToHashSet();
        Assert.Contains("model.layers.1.self_attn.q_proj.bias", qwenKeys);
        Assert.Contains("model.layers.1.self_attn.v_proj.bias", qwenKeys);
        Assert.DoesNotContain("model.layers.1.self_attn.o_proj.bias", qwenKeys);
        Assert.DoesNotContain("lm_head.weight", qwenKeys);
        Assert.Equal(qwen.Config.ParameterCount(), qwen.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void LastHiddenState_IsTheFinalNormOutputThatProducesTheLogits()
    {
        using var model = TestCheckpoints.Model("llama");
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, seed: 4);
        using var noGrad = no_grad();
        CausalLMOutput output = model.call(new CausalLMInput(ids, OutputHiddenStates: true));
        Assert.NotNull(output.LastHiddenState);
        Assert.Equal([2, 6, 32], output.LastHiddenState!.shape);
        TestCheckpoints.AssertClose(output.Logits, output.LastHiddenState.matmul(model.state_dict()["lm_head.weight"].t()), 1e-5, "logits from hidden");
        Assert.Null(model.call(new CausalLMInput(ids)).LastHiddenState);
    }

    [Theory]
    [InlineData("llama")]  // separate lm_head
    [InlineData("qwen2")]  // tied to the embeddings
    public void LogitsToKeep_GivesTheLastPositionsOrNone_AndComputeLogitsProjectsHiddenStates(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, seed: 4);
        using var noGrad = no_grad();
        CausalLMOutput all = model.call(new CausalLMInput(ids, OutputHiddenStates: true));
        long vocab = model.Config.VocabSize;

        Tensor last = model.call(new CausalLMInput(ids, LogitsToKeep: 1)).Logits;
        Tensor lastTwo = model.call(new CausalLMInput(ids, LogitsToKeep: 2)).Logits;
        CausalLMOutput none = model.call(new CausalLMInput(ids, OutputHiddenStates: true, LogitsToKeep: 0));

        Assert.Equal([2, 1, vocab], last.shape);
        TestCheckpoints.AssertClose(all.Logits.narrow(1, 5, 1), last, 1e-5, "last position");
        TestCheckpoints.AssertClose(all.Logits.narrow(1, 4, 2), lastTwo, 1e-5, "last two positions");
        Assert.Equal([2, 0, vocab], none.Logits.shape);
        TestCheckpoints.AssertClose(all.LastHiddenState!, none.LastHiddenState!, 0, "hidden states do not depend on the logits kept");
        Assert.Equal([2, 6, vocab], model.call(new CausalLMInput(ids, LogitsToKeep: 100)).Logits.shape);
        TestCheckpoints.AssertClose(all.Logits, model.ComputeLogits(none.LastHiddenState!), 1e-5, "ComputeLogits");
        Assert.Throws<ArgumentException>(() => model.call(new CausalLMInput(ids, LogitsToKeep: -1)));
    }

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void KvCachedDecoding_EqualsFullRecomputation(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 10, seed: 5);
        using var noGrad = no_grad();
        Tensor full = model.call(new CausalLMInput(ids)).Logits;
        using var cache = KvCache.Create(model, batchSize: 2, maxLength: 16);
        var pieces = new List<Tensor> { model.call(new CausalLMInput(ids.narrow(1, 0, 4), Cache: cache)).Logits };
        pieces.Add(model.call(new CausalLMInput(ids.narrow(1, 4, 2), Cache: cache)).Logits); // a multi-token chunk with a past
        for (int i = 6; i < 10; i++)
        {
            pieces.Add(model.call(new CausalLMInput(ids.narrow(1, i, 1), Cache: cache)).Logits);
        }

        Assert.Equal(10, cache.Length);
        TestCheckpoints.AssertClose(full, cat(pieces, 1), 1e-5, $"{modelType} cached logits");
    }

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void PaddedBatch_LeftOrRight_EqualsUnpaddedSingleRuns(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using var noGrad = no_grad();
        long[][] rows = [TestCheckpoints.Ids(model.Config.VocabSize, 1, 5, 11)[0].data<long>().ToArray(), TestCheckpoints.Ids(model.Config.VocabSize, 1, 9, 12)[0].data<long>().ToArray()];
        Tensor[] single = rows.Select(r => model.call(new CausalLMInput(tensor(r).unsqueeze(0))).Logits[0]).ToArray();
        foreach (bool left in new[] { true, false })
        {
            var ids = zeros([2, 9], ScalarType.Int64);
            var mask = zeros([2, 9], ScalarType.Int64);
            for (int b = 0; b < 2; b++)
            {
                long offset = left ? 9 - rows[b].Length : 0;
                ids[b].narrow(0, offset, rows[b].Length).copy_(tensor(rows[b]));
                mask[b].narrow(0, offset, rows[b].Length).fill_(1);
            }

            Tensor logits = model.call(new CausalLMInput(ids, mask)).Logits;
            Assert.False(logits.isnan().any().item<bool>(), "padding rows must stay finite");
            for (int b = 0; b < 2; b++)
            {
                long offset = left ? 9 - rows[b].Length : 0;
                TestCheckpoints.AssertClose(single[b], logits[b].narrow(0, offset, rows[b].Length), 1e-5, $"{modelType} row {b} left={left}");
            }
        }
    }

    [Fact]
    public void LeftPaddedCachedDecoding_EqualsUnpaddedSingleRun()
    {
        using var model = TestCheckpoints.Model("mistral");
        using var noGrad = no_grad();
        long[] row = TestCheckpoints.Ids(model.Config.VocabSize, 1, 8, 21)[0].data<long>().ToArray();
        Tensor expected = model.call(new CausalLMInput(tensor(row).unsqueeze(0))).Logits[0];
        // Row 0: 3 pads then the first 5 tokens as a prompt; then 3 tokens decoded one by one.
        var ids = cat([zeros([1, 3], ScalarType.Int64), tensor(row.Take(5).ToArray()).unsqueeze(0)], 1);
        var mask = cat([zeros([1, 3], ScalarType.Int64), ones([1, 5], ScalarType.Int64)], 1);
        using var cache = KvCache.Create(model, 1, 16);
        var pieces = new List<Tensor> { model.call(new CausalLMInput(ids, mask, cache)).Logits[0].narrow(0, 3, 5) };
        for (int i = 5; i < 8; i++)
        {
            mask = cat([mask, ones([1, 1], ScalarType.Int64)], 1);
            pieces.Add(model.call(new CausalLMInput(tensor(new[] { row[i] }).unsqueeze(0), mask, cache)).Logits[0]);
        }

        TestCheckpoints.AssertClose(expected, cat(pieces, 0), 1e-5, "left-padded cached decoding");
    }

    [Fact]
    public void KvCache_SelectKeepsRowsAndResetStartsOver()
    {
        using var model = TestCheckpoints.Model("llama");
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 6, seed: 13);
        using var noGrad = no_grad();
        Tensor full = model.call(new CausalLMInput(ids)).Logits;
        var cache = KvCache.Create(model, 2, 8);
        model.call(new CausalLMInput(ids.narrow(1, 0, 4), Cache: cache));
        cache = cache.Select(tensor(new long[] { 1 }));
        Assert.Equal(1, cache.BatchSize);
        Assert.Equal(4, cache.Length);
        Tensor rest = model.call(new CausalLMInput(ids.narrow(0, 1, 1).narrow(1, 4, 2), Cache: cache)).Logits;
        TestCheckpoints.AssertClose(full.narrow(0, 1, 1).narrow(1, 4, 2), rest, 1e-5, "selected row");
        cache.Reset();
        Assert.Equal(0, cache.Length);
        Tensor again = model.call(new CausalLMInput(ids.narrow(0, 1, 1), Cache: cache)).Logits;
        TestCheckpoints.AssertClose(full.narrow(0, 1, 1), again, 1e-5, "after reset");
        cache.Dispose();
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void ActivationCheckpointing_GivesIdenticalGradients(string modelType)
    {
        using var model = TestCheckpoints.Model(modelType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 7, seed: 8);
        using Tensor mask = ones([2, 7], ScalarType.Int64);
        mask[0, 0] = 0;
        model.train();
        Dictionary<string, Tensor> Grads(bool checkpoint)
        {
            model.GradientCheckpointing = checkpoint;
            model.zero_grad();
            Tensor logits = model.call(new CausalLMInput(ids, mask)).Logits;
            logits.pow(2).mean().backward();
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }

        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(plain.Keys, checkpointed.Keys);
        foreach (var (name, g) in plain)
        {
            TestCheckpoints.AssertClose(g, checkpointed[name], 1e-7, $"grad {name}");
        }

        Assert.True(plain["model.layers.0.self_attn.q_proj.weight"].abs().sum().item<float>() > 0);
    }

    [Fact]
    public void BFloat16Model_RunsAndStaysCloseToFloat32()
    {
        using var model = TestCheckpoints.Model("llama");
        using var bf16 = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.DType);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 1, 6, seed: 9);
        using var noGrad = no_grad();
        Tensor a = model.call(new CausalLMInput(ids)).Logits;
        Tensor b = bf16.call(new CausalLMInput(ids)).Logits;
        Assert.Equal(ScalarType.BFloat16, b.dtype);
        TestCheckpoints.AssertClose(a, b, 0.05, "bf16 vs f32 logits");
    }

    [Fact]
    public void Forward_RejectsBadShapes()
    {
        using var model = TestCheckpoints.Model("llama");
        using var noGrad = no_grad();
        Assert.Throws<ArgumentException>(() => model.call(new CausalLMInput(zeros([5], ScalarType.Int64))));
        Assert.Throws<ArgumentException>(() => model.call(new CausalLMInput(zeros([1, 5], ScalarType.Int64), ones([1, 4], ScalarType.Int64))));
        using var cache = KvCache.Create(model, 1, 4);
        Assert.Throws<InvalidOperationException>(() => model.call(new CausalLMInput(zeros([1, 5], ScalarType.Int64), Cache: cache)));
    }
}
