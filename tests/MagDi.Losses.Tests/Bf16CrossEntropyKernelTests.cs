using MagDi.Testing;

namespace MagDi.Losses.Tests;

/// <summary>Tests that turn the process-wide <c>MagDi.DisableCpuTrainingKernels</c> switch run alone.</summary>
[CollectionDefinition(nameof(FusedLossSwitch), DisableParallelization = true)]
public sealed class FusedLossSwitch
{
    /// <summary>Runs <paramref name="action"/> with the C# bf16 cross-entropy kernel off (libtorch's float32 blocks), then turns it back on.</summary>
    internal static T WithKernelDisabled<T>(Func<T> action) => AppSwitch.With(Bf16CrossEntropyKernel.DisableSwitch, action);
}

/// <summary>
/// The C# cross-entropy of bfloat16 CPU logits (<see cref="Bf16CrossEntropyKernel"/>) against the libtorch float32 blocks
/// <see cref="ChunkedCrossEntropy"/> ran before, in one process: losses to float32 rounding, gradients to one bfloat16 rounding.
/// </summary>
[Collection(nameof(FusedLossSwitch))]
public sealed class Bf16CrossEntropyKernelTests
{
    // Ragged vocabularies (not a multiple of the 16-element vectors), one row, and a size split over two workers.
    public static TheoryData<int, int, bool> Cases => new()
    {
        { 13, 37, true }, { 13, 37, false }, { 1, 5, true }, { 9, 1000, false }, { 70, 32003, true },
    };

    private static (double Loss, Tensor Gradient) Run(Tensor logits0, Tensor targets, bool mean, Tensor upstream)
    {
        Tensor logits = logits0.detach().requires_grad_(true);
        Tensor loss = mean ? ChunkedCrossEntropy.Mean(logits, targets) : ChunkedCrossEntropy.PerRow(logits, targets);
        (mean ? loss * upstream[0] : (loss * upstream).sum()).backward();
        double value = (mean ? loss : (loss * upstream).sum()).to(ScalarType.Float64).item<double>();
        return (value, logits.grad!.clone());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradient_EqualLibTorchBlocksWithinBf16Rounding(int rows, int vocabulary, bool mean)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11, CPU);
        Tensor logits = (randn([rows, vocabulary], generator: generator) * 3).to(ScalarType.BFloat16);   // [K, V]
        if (vocabulary > 3 && rows > 1)
        {
            logits[0, 2] = tensor(float.NegativeInfinity);                                                // a masked class
            logits[rows - 1, 1] = tensor(60f);                                                             // a dominant one
        }

        Tensor targets = randint(0, vocabulary, [rows], dtype: ScalarType.Int64, generator: generator);
        if (vocabulary > 3 && rows > 1)
        {
            targets[0] = tensor(3L);                                                                       // not the masked class
            targets[rows - 1] = tensor(1L);
        }

        Tensor upstream = rand([rows], generator: generator) + 0.5;                                      // per-row weights
        Assert.True(Bf16CrossEntropyKernel.Applies(logits));

        (double loss, Tensor gradient) = Run(logits, targets, mean, upstream);
        (double reference, Tensor expected) = FusedLossSwitch.WithKernelDisabled(() =>
        {
            Assert.False(Bf16CrossEntropyKernel.Applies(logits));
            return Run(logits, targets, mean, upstream);
        });

        Assert.Equal(reference, loss, tolerance: 1e-5 * Math.Abs(reference));
        Assert.Equal(ScalarType.BFloat16, gradient.dtype);
        Tensor e = expected.to(ScalarType.Float64), a = gradient.to(ScalarType.Float64);
        Assert.True(e.abs().max().item<double>() > 1e-3, "the gradient under test is not trivially zero");
        // Both sides round float32 values that differ by float32 rounding to bfloat16: at most one bfloat16 step apart.
        // Elements far below the row's largest (exp underflowing to float32 subnormals) may round differently in absolute terms.
        Tensor allowed = (e.abs() * Math.Pow(2, -7)) + (e.abs().max() * 1e-6);
        double equal = a.eq(e).to(ScalarType.Float64).mean().item<double>();
        Assert.True((a - e).abs().le(allowed).all().item<bool>(), $"max |diff| {(a - e).abs().max().item<double>():G3}, equal {equal:P1}");
        Assert.True(equal > 0.9, $"most gradient elements are bit for bit equal, got {equal:P1}");
    }

    [Fact]
    public void Gradient_IsSoftmaxMinusOneHot_AgainstFloat64()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5, CPU);
        Tensor logits = (randn([4, 50], generator: generator) * 2).to(ScalarType.BFloat16);
        Tensor targets = tensor(new long[] { 0, 49, 17, 17 });

        (double loss, Tensor gradient) = Run(logits, targets, mean: true, upstream: ones(1));

        Tensor x = logits.to(ScalarType.Float64);
        Tensor expected = (x.softmax(-1) - nn.functional.one_hot(targets, 50).to(ScalarType.Float64)) / 4;
        Assert.Equal(nn.functional.cross_entropy(x, targets).item<double>(), loss, tolerance: 1e-5);
        Assert.True(gradient.to(ScalarType.Float64).allclose(expected, rtol: 1e-2, atol: 1e-5),
            $"max |diff| {(gradient.to(ScalarType.Float64) - expected).abs().max().item<double>():G3}");
    }

    [Fact]
    public void Float32AndOtherDevices_KeepLibTorchBlocks()
    {
        using var scope = NewDisposeScope();
        Assert.False(Bf16CrossEntropyKernel.Applies(randn(3, 4)));
        Assert.False(Bf16CrossEntropyKernel.Applies(randn(3, 4).to(ScalarType.Float16)));
        Assert.True(Bf16CrossEntropyKernel.Applies(randn(3, 4).to(ScalarType.BFloat16)));
    }
    [Fact]
    public void NextTokenLossFromBf16HiddenStates_EqualsTheLibTorchPathWithinBf16Rounding()
    {
        // K = 3 x 399 = 1197 targets: head blocks of 512, 512 and 173 rows, as in bf16 LoRA training.
        using var scope = NewDisposeScope();
        using var generator = new Generator(8, CPU);
        Tensor weight = (randn([300, 16], generator: generator) * 0.3).to(ScalarType.BFloat16).requires_grad_(true);  // V = 300, d = 16
        Tensor hidden0 = randn([3, 400, 16], generator: generator).to(ScalarType.BFloat16);
        Tensor labels = randint(0, 300, [3, 400], generator: generator);

        (float Loss, Tensor Hidden, Tensor Weight) Run()
        {
            weight.grad?.zero_();
            Tensor hidden = hidden0.detach().requires_grad_(true);
            Tensor loss = NextTokenLoss.Compute(hidden, labels, h => nn.functional.linear(h, weight)).Loss;
            loss.backward();
            return (loss.item<float>(), hidden.grad!.clone(), weight.grad!.clone());
        }

        var reference = FusedLossSwitch.WithKernelDisabled(Run);
        var kernel = Run();

        Assert.Equal(reference.Loss, kernel.Loss, tolerance: 1e-5 * Math.Abs(reference.Loss));
        foreach (var (e, a, name) in new[] { (reference.Hidden, kernel.Hidden, "hidden"), (reference.Weight, kernel.Weight, "head weight") })
        {
            Tensor e64 = e.to(ScalarType.Float64), a64 = a.to(ScalarType.Float64);
            double relative = (a64 - e64).norm().item<double>() / e64.norm().item<double>();
            Assert.True(e64.norm().item<double>() > 0, $"{name}: no gradient");
            Assert.True(relative < 4e-3, $"{name}: relative error {relative:G3}");   // bf16 rounds at 2^-9 = 2e-3
        }
    }
}
