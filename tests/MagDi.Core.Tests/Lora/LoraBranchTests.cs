using MagDi.Core.Tests.Modeling;
using MagDi.Lora;
using MagDi.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Lora;

/// <summary>
/// The adapter branch of <see cref="LoraLinear"/>: bfloat16 layers on the CPU compute it in bfloat16 with C#-drawn
/// dropout masks; these tests hold it against a straightforward float32 implementation and the float32 branch.
/// </summary>
[Collection(nameof(GlobalTorchRandomState))]
public sealed class LoraBranchTests
{
    [Theory]
    [InlineData(0.05)]
    [InlineData(0.5)]
    public void KeepMask_KeepsEachElementWithProbabilityOneMinusP_ReproduciblyAndIndependentOfTheSplit(double p)
    {
        const long N = 300_001; // ten chunks and an odd tail: the parallel fill, the 16-wide steps and the scalar tail all meet
        using Tensor mask = LoraDropout.KeepMask([N], p, 42);
        using Tensor values = mask.to_type(ScalarType.Float32);
        Assert.Equal(ScalarType.BFloat16, mask.dtype);
        Assert.Equal(N, (values.eq(0) | values.eq(1)).sum().item<long>());

        // Keep rate within 5 standard deviations of 1 - p, overall and on even and odd positions.
        foreach (Tensor part in new[] { values, values.narrow(0, 0, N - 1).view(-1, 2).select(1, 0), values.narrow(0, 0, N - 1).view(-1, 2).select(1, 1) })
        {
            double rate = part.mean().item<float>();
            double sigma = Math.Sqrt(p * (1 - p) / part.numel());
            Assert.InRange(rate, 1 - p - (5 * sigma), 1 - p + (5 * sigma));
        }

        // Neighbouring elements are uncorrelated: P(both kept) = (1 - p)².
        double both = (values.narrow(0, 0, N - 1) * values.narrow(0, 1, N - 1)).mean().item<float>();
        double sigmaBoth = Math.Sqrt((1 - p) * (1 - p) * (1 - ((1 - p) * (1 - p))) / (N - 1));
        Assert.InRange(both, ((1 - p) * (1 - p)) - (6 * sigmaBoth), ((1 - p) * (1 - p)) + (6 * sigmaBoth));

        using Tensor again = LoraDropout.KeepMask([N], p, 42);
        Assert.True(Same(mask, again), "same seed, same mask");
        using Tensor other = LoraDropout.KeepMask([N], p, 43);
        Assert.False(Same(mask, other), "another seed, another mask");

        // A mask depends on seed and element index only: a small (single-chunk, serial) mask is the big one's prefix.
        using Tensor small = LoraDropout.KeepMask([3, 333], p, 42);
        Assert.True(Same(small.flatten(), mask.narrow(0, 0, 999)));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    public void Bfloat16Branch_LossAndGradients_MatchAStraightforwardFloat32Reference(double dropout)
    {
        // A 32 -> 24 layer with a nonzero adapter; x [2,7,32]. The reference takes the same bf16 values up to float32
        // and computes y = x Wᵀ + (alpha/r) · ((x ⊙ m / (1 - p)) Aᵀ) Bᵀ with the same keep-mask m, then differentiates it.
        var (layer, x, g) = Layer(ScalarType.BFloat16, dropout, seed: 3);
        using var disposeLayer = layer;
        layer.train();

        manual_seed(11);
        using Tensor xIn = x.detach().requires_grad_(true);
        Tensor y = layer.call(xIn);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        Tensor loss = (y.to_type(ScalarType.Float32) * g).sum();
        loss.backward();

        manual_seed(11);
        Tensor keep = dropout > 0
            ? LoraDropout.KeepMask(x.shape, dropout, LoraDropout.DrawSeed()).to_type(ScalarType.Float32)
            : ones(x.shape);
        using Tensor x32 = x.to_type(ScalarType.Float32).requires_grad_(true);
        using Tensor a32 = layer.LoraA.detach().clone().requires_grad_(true);
        using Tensor b32 = layer.LoraB.detach().clone().requires_grad_(true);
        Tensor w32 = layer.Weight.detach().to_type(ScalarType.Float32);
        Tensor yRef = x32.matmul(w32.t()) + (((x32 * keep / (1 - dropout)).matmul(a32.t()).matmul(b32.t())) * layer.Scaling);
        Tensor lossRef = (yRef * g).sum();
        lossRef.backward();

        AssertRelativelyClose(yRef, y, 0.01, "output");
        Assert.InRange(loss.item<float>(), lossRef.item<float>() - (0.01 * Math.Abs(lossRef.item<float>())) - 0.05, lossRef.item<float>() + (0.01 * Math.Abs(lossRef.item<float>())) + 0.05);
        AssertRelativelyClose(a32.grad!, layer.LoraA.grad!, 0.02, "dL/dA");
        AssertRelativelyClose(b32.grad!, layer.LoraB.grad!, 0.02, "dL/dB");
        AssertRelativelyClose(x32.grad!, xIn.grad!, 0.02, "dL/dx");
        Assert.Equal(ScalarType.Float32, layer.LoraA.grad!.dtype);
        Assert.Null(layer.Weight.grad);
    }

    [Fact]
    public void Bfloat16Branch_InEvalMode_DrawsNoRandomNumbers_AndEqualsTheFloat32Branch()
    {
        var (layer, x, _) = Layer(ScalarType.BFloat16, 0.3, seed: 4);
        using var disposeLayer = layer;
        layer.eval();
        using var noGrad = no_grad();
        manual_seed(5);
        Tensor y = layer.call(x);
        using Tensor next = rand(4);
        manual_seed(5);
        using Tensor nextWithoutLayer = rand(4);
        Assert.True(Same(next, nextWithoutLayer), "eval forward consumed random numbers");
        Tensor yFloat32Branch;
        using (LoraLinear.UseFloat32BranchForTests())
        {
            yFloat32Branch = layer.call(x);
        }

        AssertRelativelyClose(yFloat32Branch.to_type(ScalarType.Float32), y.to_type(ScalarType.Float32), 0.01, "eval output");
    }

    [Fact]
    public void Float32Layer_KeepsTheFloat32BranchWithLibtorchsDropout()
    {
        // The quickstart trains in float32: its numbers must not move. Same seed, same libtorch dropout mask, same formula.
        var (layer, x, _) = Layer(ScalarType.Float32, 0.3, seed: 5);
        using var disposeLayer = layer;
        layer.train();
        manual_seed(9);
        Tensor y = layer.call(x);
        manual_seed(9);
        Tensor dropped = nn.functional.dropout(x, 0.3, training: true);
        Tensor expected = nn.functional.linear(x, layer.Weight) + (dropped.matmul(layer.LoraA.t()).matmul(layer.LoraB.t()) * layer.Scaling);
        TestCheckpoints.AssertClose(expected, y, 1e-6, "f32 branch");
    }

    [Fact]
    public void Bfloat16Model_LossAndLoraGradients_MatchTheFloat32Branch_AndCheckpointingReplaysTheMasks()
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0.3, TargetModules = ["q_proj", "v_proj", "down_proj"] });
        Randomize(adapter, 8);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 9, 9);
        using Tensor targets = ids.narrow(1, 1, 8).flatten();
        (float Loss, List<Tensor> Grads) Step()
        {
            model.zero_grad();
            manual_seed(123);
            Tensor logits = model.call(new CausalLMInput(ids)).Logits.narrow(1, 0, 8).flatten(0, 1); // [B·(T-1), V]
            Tensor loss = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), targets);
            loss.backward();
            return (loss.item<float>(), adapter.TrainableParameters.Select(p => p.grad!.clone()).ToList());
        }

        // Without dropout (eval mode: the model has no other dropout, and gradients still flow) the two branches
        // differ only in rounding: the bf16 branch rounds (x Aᵀ) and its gradients to 8 significant bits.
        model.eval();
        var fast = Step();
        (float Loss, List<Tensor> Grads) reference;
        using (LoraLinear.UseFloat32BranchForTests())
        {
            reference = Step();
        }

        Assert.InRange(fast.Loss, reference.Loss * 0.995, reference.Loss * 1.005);
        for (int i = 0; i < fast.Grads.Count; i++)
        {
            Assert.True(reference.Grads[i].abs().sum().item<float>() > 0, $"adapter parameter {i} got no gradient");
            AssertRelativelyClose(reference.Grads[i], fast.Grads[i], 0.03, $"adapter grad {i}");
        }

        Assert.All(model.parameters().Where(p => !p.requires_grad), p => Assert.Null(p.grad));

        // With dropout, a checkpointed step recomputes every layer and must draw the same masks.
        model.train();
        var plain = Step();
        model.GradientCheckpointing = true;
        var checkpointed = Step();
        Assert.Equal(plain.Loss, checkpointed.Loss);
        for (int i = 0; i < plain.Grads.Count; i++)
        {
            TestCheckpoints.AssertClose(plain.Grads[i], checkpointed.Grads[i], 1e-7, $"adapter grad {i} with dropout, checkpointed");
            Assert.True((plain.Grads[i] - fast.Grads[i]).abs().max().item<float>() > 0, $"dropout changed nothing in adapter grad {i}");
        }
    }

    private static (LoraLinear Layer, Tensor X, Tensor G) Layer(ScalarType dtype, double dropout, long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        var linear = nn.Linear(32, 24, hasBias: false, dtype: dtype);
        using (no_grad())
        {
            linear.weight!.copy_(normal(0, 0.2, [24, 32], generator: generator).to_type(dtype));
        }

        var layer = new LoraLinear(linear, rank: 4, alpha: 8, dropout: dropout, generator: generator);
        using (no_grad())
        {
            layer.LoraB.copy_(normal(0, 0.3, layer.LoraB.shape, generator: generator));
        }

        linear.Dispose();
        Tensor x = normal(0, 1, [2, 7, 32], generator: generator).to_type(dtype);
        Tensor g = normal(0, 1, [2, 7, 24], generator: generator);
        return (layer, x, g);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static void Randomize(LoraAdapter adapter, long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (Parameter p in adapter.TrainableParameters)
        {
            p.copy_(normal(0, 0.05, p.shape, generator: generator));
        }
    }

    /// <summary>‖actual - expected‖ / ‖expected‖ at most <paramref name="tolerance"/> (bfloat16 keeps 8 significant bits: 2^-8 ≈ 0.004 per rounding).</summary>
    private static void AssertRelativelyClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using Tensor e = expected.detach().to_type(ScalarType.Float64);
        using Tensor a = actual.detach().to_type(ScalarType.Float64);
        double norm = e.norm().item<double>();
        double error = (a - e).norm().item<double>() / norm;
        Assert.True(norm > 0, $"{what}: the reference is zero");
        Assert.True(error <= tolerance, $"{what}: relative error {error:G3} > {tolerance}");
    }
}
