using MagDi.Lora;
using MagDi.Modeling;
using MagDi.Modeling.Kernels;
using MagDi.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

/// <summary>Tests that turn the process-wide <c>MagDi.DisableFusedBackward</c> switch run alone.</summary>
[CollectionDefinition(nameof(FusedBackwardSwitch), DisableParallelization = true)]
public sealed class FusedBackwardSwitch
{
    /// <summary>Runs <paramref name="action"/> with the fused nodes off (libtorch's op-by-op graph), then turns them back on.</summary>
    internal static T WithFusedBackwardDisabled<T>(Func<T> action) => AppSwitch.With(ForwardKernels.DisableFusedBackwardSwitch, action);

    /// <summary>Runs <paramref name="action"/> with the C# training kernels (LoRA dropout node, RMSNorm bf16 backward, bf16 loss) off, then turns them back on.</summary>
    internal static T WithCpuTrainingKernelsDisabled<T>(Func<T> action) => AppSwitch.With(ForwardKernels.DisableCpuTrainingKernelsSwitch, action);
}

/// <summary>
/// The fused RMSNorm and rotary autograd nodes of half-precision training (<see cref="RmsNormFunction"/>,
/// <see cref="RopeFunction"/>, chosen by <see cref="ForwardKernels.Training"/>) against libtorch's op-by-op graph of the
/// same expressions, which is what training computed before: forward outputs bit for bit, gradients within bf16 rounding.
/// </summary>
[Collection(nameof(FusedBackwardSwitch))]
public sealed class FusedBackwardTests
{
    /// <summary>Output and the gradients of the inputs that require one, for the loss sum(y · g).</summary>
    private static Tensor[] Run(Func<Tensor[], Tensor> f, Tensor g, params Tensor[] inputs)
    {
        Tensor y = f(inputs);
        (y * g).sum().backward();
        return [y.detach(), .. inputs.Where(t => t.requires_grad).Select(t => t.grad!.clone())];
    }

    /// <summary>max |a - e| over max |e|: the error in units of the gradient's scale (bf16 rounds at 2^-9 relative).</summary>
    private static double RelativeMaxError(Tensor expected, Tensor actual)
    {
        using Tensor e = expected.to_type(ScalarType.Float64), a = actual.to_type(ScalarType.Float64);
        return (a - e).abs().max().item<double>() / e.abs().max().item<double>();
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, false)]
    [InlineData(ScalarType.BFloat16, true)]
    [InlineData(ScalarType.Float16, true)]
    public void RmsNorm_ForwardIsBitForBit_GradientsWithinHalfRounding(ScalarType dtype, bool trainableWeight)
    {
        using var gen = new Generator(3, CPU);
        using var norm = new RmsNorm(48, 1e-5, CPU, dtype);
        using (no_grad())
        {
            norm.Weight.copy_(normal(1, 0.3, [48], generator: gen));
        }

        norm.Weight.requires_grad_(trainableWeight);
        Tensor x0 = (randn([3, 7, 48], generator: gen) * 2).to_type(dtype);
        Tensor g = randn([3, 7, 48], generator: gen).to_type(dtype);
        Tensor[] Case(ForwardKernels kernels)
        {
            norm.zero_grad();
            Tensor x = x0.detach().requires_grad_(true);
            Tensor[] r = Run(t => norm.Forward(t[0], kernels), g, x);
            return trainableWeight ? [.. r, norm.Weight.grad!.clone()] : r;
        }

        Tensor[] reference = Case(ForwardKernels.LibTorch);
        Tensor[] fused = Case(ForwardKernels.Training);
        Assert.NotNull(ForwardKernels.Training.TryRmsNorm(x0.detach().requires_grad_(true), norm.Weight, 1e-5));
        Assert.True(reference[0].equal(fused[0]).all().item<bool>(), "forward output");
        Assert.Equal(trainableWeight ? 3 : 2, fused.Length);

        // Both against float64 arithmetic on the same inputs: the fused gradient is no further from it than a bf16 rounding.
        Tensor[] exact = Run(t => norm.Weight.detach().to_type(ScalarType.Float64).requires_grad_(trainableWeight) is var w
            ? w * (t[0] * rsqrt(t[0].pow(2).mean([-1], keepdim: true) + 1e-5)) : null!, g.to_type(ScalarType.Float64),
            x0.to_type(ScalarType.Float64).requires_grad_(true));
        double unit = dtype == ScalarType.BFloat16 ? 1.0 / 256 : 1.0 / 2048;
        double fusedError = RelativeMaxError(exact[1], fused[1]), referenceError = RelativeMaxError(exact[1], reference[1]);
        Assert.True(fusedError <= referenceError + unit, $"dx: fused error {fusedError:G3}, op-by-op {referenceError:G3}");
        Assert.True(RelativeMaxError(reference[1], fused[1]) <= 2 * unit, "dx against the op-by-op graph");
        if (trainableWeight)
        {
            Assert.True(RelativeMaxError(reference[2], fused[2]) <= 2 * unit, $"dw: {RelativeMaxError(reference[2], fused[2]):G3}");
        }
    }

    [Theory]
    [InlineData(false, 48)]
    [InlineData(true, 48)]
    [InlineData(false, 21)]     // a ragged tail after the 8-element vectors
    [InlineData(false, 384)]    // the benchmark model's width, enough rows for two parts
    public void RmsNormBf16Backward_CSharpKernelEqualsTheFloat32ClosedFormWithinOneRounding(bool trainableWeight, int d)
    {
        using var gen = new Generator(13, CPU);
        using var norm = new RmsNorm(d, 1e-5, CPU, ScalarType.BFloat16);
        using (no_grad())
        {
            norm.Weight.copy_(normal(1, 0.3, [d], generator: gen));
        }

        norm.Weight.requires_grad_(trainableWeight);
        long rows = d == 384 ? 700 : 7;
        Tensor x0 = (randn([3, rows, d], generator: gen) * 2).to_type(ScalarType.BFloat16);
        Tensor g = randn([3, rows, d], generator: gen).to_type(ScalarType.BFloat16);
        Tensor[] Case()
        {
            norm.zero_grad();
            Tensor x = x0.detach().requires_grad_(true);
            Tensor[] r = Run(t => norm.Forward(t[0], ForwardKernels.Training), g, x);
            return trainableWeight ? [.. r, norm.Weight.grad!.clone()] : r;
        }

        Tensor[] closedForm = FusedBackwardSwitch.WithCpuTrainingKernelsDisabled(Case);
        Tensor[] kernel = Case();
        Assert.True(closedForm[0].equal(kernel[0]).all().item<bool>(), "forward output");
        using Tensor e = closedForm[1].to_type(ScalarType.Float64), a = kernel[1].to_type(ScalarType.Float64);
        // Only the row sum's order differs: dx elements equal, or one bf16 step apart where that sum's last bit tips a rounding.
        double equal = a.eq(e).to_type(ScalarType.Float64).mean().item<double>();
        Assert.True(equal > 0.95, $"{equal:P1} of dx elements bit for bit");
        Assert.True((a - e).abs().le((e.abs() * Math.Pow(2, -7)) + (e.abs().max() * 1e-4)).all().item<bool>(), $"dx max diff {RelativeMaxError(closedForm[1], kernel[1]):G3}");
        if (trainableWeight)
        {
            Assert.True(closedForm[2].equal(kernel[2]).all().item<bool>(), "the weight gradient is libtorch's in both");
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Rope_ForwardAndGradientAreThoseOfTheOpByOpGraph(ScalarType dtype)
    {
        using var gen = new Generator(4, CPU);
        using Tensor positions = arange(3, 9, ScalarType.Int64).unsqueeze(0).expand(2, 6).contiguous();
        var (cos, sin) = Rope.Build(positions, 16, 10000, dtype);
        // [B,T,H,hd] viewed as [B,H,T,hd], as the attention's projections are.
        Tensor x0 = randn([2, 6, 3, 16], generator: gen).to_type(dtype).transpose(1, 2);
        Tensor g = randn([2, 3, 6, 16], generator: gen).to_type(dtype);
        Tensor[] Case(ForwardKernels kernels) => Run(t => Rope.Apply(t[0], cos, sin, kernels), g, x0.detach().requires_grad_(true));

        Tensor[] reference = Case(ForwardKernels.LibTorch);
        Tensor[] fused = Case(ForwardKernels.Training);
        Assert.NotNull(ForwardKernels.Training.TryRope(x0.detach().requires_grad_(true), cos, sin));
        Assert.True(reference[0].equal(fused[0]).all().item<bool>(), "forward output");
        // Every element of dx is one rounded sum of the same two rounded products on both paths.
        Assert.True(reference[1].equal(fused[1]).all().item<bool>(), $"dx differs by {RelativeMaxError(reference[1], fused[1]):G3}");
    }

    [Fact]
    public void Float32AndInferenceKeepLibTorchOps()
    {
        using Tensor x = randn([2, 3, 8]).requires_grad_(true);
        using Tensor w = ones(8);
        Assert.Null(ForwardKernels.Training.TryRmsNorm(x, w, 1e-5));                       // f32: HF's graph, bit for bit
        using Tensor xb = x.detach().to_type(ScalarType.BFloat16);
        using Tensor wb = w.to_type(ScalarType.BFloat16);
        Assert.Null(ForwardKernels.Training.TryRmsNorm(xb, wb, 1e-5));                     // nothing needs a gradient
        using (no_grad())
        {
            Assert.Null(ForwardKernels.Training.TryRmsNorm(xb.requires_grad_(true), wb, 1e-5));
        }

        Assert.Same(ForwardKernels.Training, ForwardKernels.For(decodingStep: false, autograd: true));
        Assert.Same(ForwardKernels.LibTorch, FusedBackwardSwitch.WithFusedBackwardDisabled(() => ForwardKernels.For(decodingStep: false, autograd: true)));
    }

    public static TheoryData<bool, bool> ModelCases => new()
    {
        { true, false },  // bf16 + LoRA (adapters on every projection, dropout on)
        { true, true },   // the same with activation checkpointing: the fused nodes run in the recomputation
        { false, false }, // full bf16 training: norm weights and embeddings get gradients too
    };

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void BFloat16Training_LossIsBitForBit_GradientsWithinBf16Rounding(bool lora, bool checkpointing)
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        model.GradientCheckpointing = checkpointing;
        List<TorchSharp.Modules.Parameter> trainable = [.. model.parameters()];
        if (lora)
        {
            var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0.1 });
            using var generator = new Generator(9, CPU);
            using var noGrad = no_grad();
            foreach (var p in adapter.TrainableParameters)
            {
                p.copy_(normal(0, 0.05, p.shape, generator: generator));                    // B nonzero: A gets gradients too
            }

            trainable = [.. adapter.TrainableParameters];
        }

        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 12, seed: 7);
        model.train();
        (float Loss, List<Tensor> Grads) Step()
        {
            manual_seed(11);                                                                   // the same dropout masks
            model.zero_grad();
            Tensor logits = model.call(new CausalLMInput(ids)).Logits.narrow(1, 0, 11).flatten(0, 1);
            using Tensor loss = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), ids.narrow(1, 1, 11).flatten());
            loss.backward();
            return (loss.item<float>(), trainable.Select(p => p.grad!.clone()).ToList());
        }

        var reference = FusedBackwardSwitch.WithFusedBackwardDisabled(Step);
        var fused = Step();
        Assert.Equal(reference.Loss, fused.Loss);                                              // forward unchanged bit for bit
        Assert.Equal(reference.Grads.Count, fused.Grads.Count);
        for (int i = 0; i < reference.Grads.Count; i++)
        {
            using Tensor e = reference.Grads[i].to_type(ScalarType.Float64), a = fused.Grads[i].to_type(ScalarType.Float64);
            double norm = e.norm().item<double>(), error = (a - e).norm().item<double>() / norm;
            Assert.True(norm > 0, $"parameter {i} got no gradient");
            Assert.True(error <= 0.02, $"parameter {i}: relative error {error:G3} > 0.02");
        }
    }
    [Theory]
    [InlineData(0.1, 37L)]          // a ragged tail after the 16-element vectors
    [InlineData(0.05, 70_001L)]     // several 2^15-element chunks, split over workers
    [InlineData(0.0, 48L)]
    public void LoraDropoutApply_IsTheMaskProductBitForBit(double p, long n)
    {
        using var gen = new Generator(21, CPU);
        Tensor x = (randn([n], generator: gen) * 3).to_type(ScalarType.BFloat16);
        x[0] = tensor(float.NaN).to_type(ScalarType.BFloat16);
        x[1] = tensor(float.PositiveInfinity).to_type(ScalarType.BFloat16);
        x[2] = tensor(float.NegativeInfinity).to_type(ScalarType.BFloat16);
        x[3] = tensor(-0.0f).to_type(ScalarType.BFloat16);
        x[4] = tensor(-1.5f).to_type(ScalarType.BFloat16);
        foreach (long seed in new[] { 5L, long.MaxValue - 3 })
        {
            using Tensor keep = LoraDropout.KeepMask(x.shape, p, seed);
            using Tensor expected = x * keep;
            using Tensor actual = LoraDropout.Apply(x, p, seed);
            // Compare the bits: NaN != NaN, and 0 == -0 would hide a wrong sign.
            // NaN where libtorch has NaN (its own vector and scalar paths write different NaN bits); elsewhere the same bits,
            // so -0 against 0 would fail too.
            Assert.True(expected.isnan().equal(actual.isnan()).all().item<bool>(), $"seed {seed}: NaN positions");
            Assert.True(expected.isnan().sum().item<long>() >= 1, "a NaN input gives NaN");
            using Tensor e = expected.masked_fill(expected.isnan(), 0), a = actual.masked_fill(actual.isnan(), 0);
            Assert.True(e.bytes.SequenceEqual(a.bytes), $"seed {seed}: values differ");
            if (p > 0)
            {
                Assert.True(keep.eq(0).any().item<bool>() && keep.eq(1).any().item<bool>(), "the mask keeps and drops");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoraDropoutNode_LossAndAdapterGradientsAreBitForBitThoseOfTheMaskProduct(bool checkpointing)
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        model.GradientCheckpointing = checkpointing;
        var adapter = LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0.2 });
        using (var generator = new Generator(9, CPU))
        using (no_grad())
        {
            foreach (var p in adapter.TrainableParameters)
            {
                p.copy_(normal(0, 0.05, p.shape, generator: generator));                    // B nonzero: A gets gradients too
            }
        }

        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 2, 12, seed: 7);
        model.train();
        (float Loss, List<Tensor> Grads) Step()
        {
            manual_seed(11);                                                                   // the same dropout seeds
            model.zero_grad();
            Tensor logits = model.call(new CausalLMInput(ids)).Logits.narrow(1, 0, 11).flatten(0, 1);
            using Tensor loss = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), ids.narrow(1, 1, 11).flatten());
            loss.backward();
            return (loss.item<float>(), adapter.TrainableParameters.Select(p => p.grad!.clone()).ToList());
        }

        (float Loss, List<Tensor> Grads) reference;
        using (LoraDropoutFunction.UseMaskProductForTests())
        {
            Assert.False(LoraDropoutFunction.Enabled);
            reference = Step();
        }

        var fused = Step();
        Assert.True(LoraDropoutFunction.Enabled);
        Assert.Equal(reference.Loss, fused.Loss);
        Assert.Equal(reference.Grads.Count, fused.Grads.Count);
        for (int i = 0; i < reference.Grads.Count; i++)
        {
            Assert.True(reference.Grads[i].abs().sum().item<float>() > 0, $"parameter {i} got no gradient");
            Assert.True(reference.Grads[i].equal(fused.Grads[i]).all().item<bool>(), $"parameter {i}: gradients differ");
        }

        model.eval();
        Assert.NotEqual(fused.Loss, Step().Loss);                                              // dropout was on: the masks are compared too
    }
}
