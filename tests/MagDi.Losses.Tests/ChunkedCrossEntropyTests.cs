namespace MagDi.Losses.Tests;

public class ChunkedCrossEntropyTests
{
    // Block sizes that give one block, several blocks with a ragged last one (13 rows / 3 per block), and one row per block.
    public static TheoryData<ScalarType, long> Cases => new()
    {
        { ScalarType.Float32, 1L << 20 }, { ScalarType.Float32, 3 * 11 }, { ScalarType.Float32, 1 },
        { ScalarType.Float64, 3 * 11 },
        { ScalarType.BFloat16, 1L << 20 }, { ScalarType.BFloat16, 3 * 11 },
        { ScalarType.Float16, 3 * 11 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValueAndGradient_EqualPlainCrossEntropyInFloat32(ScalarType dtype, long blockElements)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7, CPU);
        Tensor values = (randn([13, 11], generator: generator) * 4).to(dtype);    // [K=13, V=11]
        Tensor targets = randint(0, 11, [13], dtype: ScalarType.Int64, generator: generator);
        Tensor upstream = tensor(0.37);                                          // the loss enters the total with a weight

        Tensor chunkedInput = values.detach().requires_grad_(true);
        Tensor chunked = ChunkedCrossEntropy.Mean(chunkedInput, targets, blockElements);
        (chunked * upstream.to(chunked.dtype)).backward();

        Tensor plainInput = values.detach().requires_grad_(true);
        ScalarType compute = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor plain = nn.functional.cross_entropy(plainInput.to(compute), targets);
        (plain * upstream.to(compute)).backward();

        Assert.Equal(compute, chunked.dtype);
        double plainValue = plain.to(ScalarType.Float64).item<double>();
        Assert.Equal(plainValue, chunked.to(ScalarType.Float64).item<double>(), tolerance: 1e-6 * plainValue);
        Assert.Equal(dtype, chunkedInput.grad!.dtype);
        // Half-precision gradients are rounded to the input dtype on both sides; compare at that precision.
        double tolerance = dtype is ScalarType.BFloat16 or ScalarType.Float16 ? 1e-2 : 1e-6;
        Tensor expected = plainInput.grad!.to(ScalarType.Float64);
        Tensor actual = chunkedInput.grad!.to(ScalarType.Float64);
        Assert.True(expected.abs().max().item<double>() > 1e-3, "the gradient under test is not trivially zero");
        Assert.True(actual.allclose(expected, rtol: tolerance, atol: tolerance * 0.01),
            $"max |diff| {(actual - expected).abs().max().item<double>():G3}");
    }

    [Fact]
    public void FloatLogits_AreNotWrittenToByTheBackward()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(5, 9).requires_grad_(true);
        Tensor before = logits.detach().clone();

        ChunkedCrossEntropy.Mean(logits, tensor(new long[] { 0, 8, 3, 3, 1 }), blockElements: 18).backward();

        Assert.True(logits.detach().eq(before).all().item<bool>());
        Assert.NotNull(logits.grad);
    }

    [Fact]
    public void LargeLogits_StayFinite()
    {
        using var scope = NewDisposeScope();
        // exp(1000) overflows float32; the log-sum-exp must subtract the row maximum.
        Tensor logits = tensor(new float[,] { { 1000, 0 }, { 0, 1000 } }).requires_grad_(true);

        Tensor loss = ChunkedCrossEntropy.Mean(logits, tensor(new long[] { 1, 1 }), blockElements: 2);
        loss.backward();

        Assert.Equal(500.0, loss.item<float>(), 3);   // (1000 + 0) / 2
        Assert.False(logits.grad!.isnan().any().item<bool>());
    }
}
