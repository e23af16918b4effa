using MagDi.Generation;
using MagDi.Lora;
using MagDi.Modeling;
using MagDi.Modeling.Kernels;
using MagDi.Testing;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MagDi.Core.Tests.Modeling;

/// <summary>Tests that turn the process-wide <c>MagDi.DisableCpuGemv</c> switch run alone.</summary>
[CollectionDefinition(nameof(CpuKernelSwitch), DisableParallelization = true)]
public sealed class CpuKernelSwitch
{
    /// <summary>Runs <paramref name="action"/> with the kernel off, then turns it back on.</summary>
    internal static T WithKernelDisabled<T>(Func<T> action) => AppSwitch.With(CpuKernels.DisableSwitch, action);
}

/// <summary>The CPU matrix-vector kernel for decoding against libtorch's linear, and where it declines.</summary>
[Collection(nameof(CpuKernelSwitch))]
public sealed class CpuGemvTests
{
    public static TheoryData<ScalarType, long, long, int, bool> Shapes => new()
    {
        // n and k off every vector width and odd (the bf16 kernel pairs elements), then model-like shapes.
        { ScalarType.Float32, 37, 19, 1, false },
        { ScalarType.Float32, 130, 1024, 2, true },
        { ScalarType.Float32, 64, 384, 1, false },
        { ScalarType.BFloat16, 37, 19, 1, true },
        { ScalarType.BFloat16, 37, 33, 2, false },
        { ScalarType.BFloat16, 130, 1024, 2, true },
        { ScalarType.BFloat16, 128, 384, 1, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TryLinear_MatchesLibTorch(ScalarType dtype, long n, long k, int rows, bool withBias)
    {
        using var generator = new Generator(11, CPU);
        using Tensor w = randn([n, k], generator: generator).to_type(dtype);
        using Tensor x = randn([rows, 1, k], generator: generator).to_type(dtype);         // [rows,1,k]: leading dims kept
        using Tensor? b = withBias ? randn([n], generator: generator).to_type(dtype) : null;
        using var noGrad = no_grad();

        using Tensor? actual = CpuGemv.TryLinear(x, w, b);
        using Tensor expected = F.linear(x, w, b);

        Assert.NotNull(actual);
        Assert.Equal(dtype, actual.dtype);
        // f32: summation order only. bf16: both round an f32 sum once, so they differ by at most one bf16 step
        // (2^-8 relative) where the two f32 sums straddle a rounding boundary.
        double tolerance = dtype == ScalarType.Float32 ? 1e-4 : 1.0 / 128;
        using Tensor scale = expected.to_type(ScalarType.Float64).abs().clamp_min(1.0);
        double worst = ((actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs() / scale).max().item<double>();
        Assert.True(worst <= tolerance, $"{dtype} [{n}x{k}] rows {rows}: worst scaled difference {worst} > {tolerance}");
    }

    [Fact]
    public void TryLinear_ReadsViewsThatStartInsideTheirStorage()
    {
        using var generator = new Generator(12, CPU);
        using Tensor storage = randn([50, 40], generator: generator).to_type(ScalarType.BFloat16);
        using Tensor w = storage.narrow(0, 7, 20);                                          // contiguous, storage offset 280
        using Tensor x = storage[45].narrow(0, 0, 40).unsqueeze(0);                         // offset 1800
        using var noGrad = no_grad();

        using Tensor? actual = CpuGemv.TryLinear(x, w, null);

        Assert.NotNull(actual);
        TestCheckpoints.AssertClose(F.linear(x, w), actual, 0.05, "bf16 product of offset views");
    }

    [Fact]
    public void TryLinear_Declines_WhereLibTorchMustRun()
    {
        using Tensor w = randn(8, 16);
        using Tensor x = randn(1, 16);
        using var noGrad = no_grad();

        Assert.NotNull(CpuGemv.TryLinear(x, w, null));                                     // the control
        Assert.Null(CpuGemv.TryLinear(randn(CpuGemv.MaxRows + 1, 16), w, null));             // enough rows for a GEMM
        Assert.Null(CpuGemv.TryLinear(x.to_type(ScalarType.Float16), w.to_type(ScalarType.Float16), null));
        Assert.Null(CpuGemv.TryLinear(x.to_type(ScalarType.BFloat16), w, null));            // mixed dtypes
        Assert.Null(CpuGemv.TryLinear(randn(1, 8), randn(16, 8).t(), null));               // transposed (strided) weight
        Assert.Null(CpuGemv.TryLinear(randn(1, 15), w, null));                             // shape mismatch: libtorch reports it
    }

    [Fact]
    public void Kernels_RunOnlyInADecodingStep()
    {
        using Tensor w = randn(8, 16);
        using Tensor x = randn(1, 16);
        using var noGrad = no_grad();

        Assert.Same(ForwardKernels.LibTorch, ForwardKernels.For(decodingStep: false, autograd: false));      // prefill, scoring, training
        Assert.Same(ForwardKernels.CpuDecode, ForwardKernels.For(decodingStep: true, autograd: false));
        Assert.Null(ForwardKernels.LibTorch.TryRmsNorm(x, ones(16), 1e-5));               // libtorch computes everything there
        Assert.Null(ForwardKernels.LibTorch.TryAttendOne(randn(1, 2, 1, 16), randn(1, 2, 3, 16), randn(1, 2, 3, 16), null));
        Assert.NotNull(ForwardKernels.CpuDecode.TryRmsNorm(x, ones(16), 1e-5));
        TestCheckpoints.AssertClose(F.linear(x, w), ForwardKernels.CpuDecode.Linear(x, w, null), 1e-5, "decode-step linear");
    }

    [Fact]
    public void TryLinear_LeavesAutogradToLibTorch()
    {
        using Tensor w = randn(8, 16).requires_grad_(true);
        using Tensor x = randn(1, 16);

        Assert.Null(CpuGemv.TryLinear(x, w, null));                                        // grad mode on, weight trainable
        using (no_grad())
        {
            Assert.NotNull(CpuGemv.TryLinear(x, w, null));                                 // inference: nothing to record
        }
    }

    [Fact]
    public void DecodingSteps_UseLibTorch_WhenTheSwitchIsSet()
    {
        Assert.Same(ForwardKernels.LibTorch, CpuKernelSwitch.WithKernelDisabled(() => ForwardKernels.For(decodingStep: true, autograd: false)));
        Assert.Same(ForwardKernels.CpuDecode, ForwardKernels.For(decodingStep: true, autograd: false));
    }

    [Fact]
    public void BFloat16Rounding_EqualsLibTorch_ForEveryKindOfValue()
    {
        var rng = new Random(5);
        float[] values = Enumerable.Range(0, 20000).Select(_ => BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)))
            .Concat([0f, -0f, 1f, float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity,
                     BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), // ties: down to even, up to even
                     BitConverter.UInt32BitsToSingle(0x7F7FFFFF)])                                            // rounds to infinity
            .Where(v => !float.IsNaN(v)).ToArray();
        using Tensor t = tensor(values).to_type(ScalarType.BFloat16);
        ushort[] expected = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(t.bytes).ToArray();

        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(expected[i] == CpuKernels.SingleToBFloat16(values[i]), $"value {values[i]:R} (0x{BitConverter.SingleToUInt32Bits(values[i]):X8})");
        }

        Assert.True(float.IsNaN(CpuKernels.BFloat16ToSingle(CpuKernels.SingleToBFloat16(float.NaN))));
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("qwen2", false)]                                                                  // q/k/v biases, tied head
    [InlineData("llama", true)]                                                                   // LoRA adapters on the projections
    public void Decoding_WithTheKernel_EqualsLibTorch(string modelType, bool lora)
    {
        using var model = TestCheckpoints.Model(modelType);
        if (lora)
        {
            LoraAdapter.Apply(model, new LoraOptions { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "down_proj"] });
            using var noGrad = no_grad();
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains("lora_B", StringComparison.Ordinal)))
            {
                p.normal_(0, 0.1);                                                                // a non-zero update
            }
        }

        int[] prompt = TestCheckpoints.Ids(model.Config.VocabSize, 1, 5, seed: 9)[0].data<long>().ToArray().Select(v => (int)v).ToArray();
        var options = new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [] };
        GenerationResult withKernel = new TextGenerator(model).Generate([prompt], options);
        GenerationResult withLibTorch = CpuKernelSwitch.WithKernelDisabled(() => new TextGenerator(model).Generate([prompt], options));
        Assert.Equal(withLibTorch.Tokens[0], withKernel.Tokens[0]);

        // The logits of one cached decoding step, both ways.
        Tensor Step()
        {
            using var noGrad = no_grad();
            using var cache = KvCache.Create(model, 1, 16);
            using Tensor ids = tensor(prompt.Select(v => (long)v).ToArray()).unsqueeze(0);
            model.call(new CausalLMInput(ids, Cache: cache));
            return model.call(new CausalLMInput(ids.narrow(1, 4, 1), Cache: cache)).Logits;
        }

        using Tensor expected = CpuKernelSwitch.WithKernelDisabled(Step);
        using Tensor actual = Step();
        TestCheckpoints.AssertClose(expected, actual, 1e-5, $"{modelType} decode-step logits");
    }

    [Fact]
    public void Decoding_InBFloat16_StaysWithinRoundingOfLibTorch()
    {
        using var model = TestCheckpoints.Model("llama", dtype: ScalarType.BFloat16);
        using Tensor ids = TestCheckpoints.Ids(model.Config.VocabSize, 1, 6, seed: 10);
        Tensor Step()
        {
            using var noGrad = no_grad();
            using var cache = KvCache.Create(model, 1, 16);
            model.call(new CausalLMInput(ids.narrow(1, 0, 5), Cache: cache));
            return model.call(new CausalLMInput(ids.narrow(1, 5, 1), Cache: cache)).Logits.to_type(ScalarType.Float32);
        }

        using Tensor expected = CpuKernelSwitch.WithKernelDisabled(Step);
        using Tensor actual = Step();
        // Logits of this model are O(1); a bf16 step there is 2^-7, and a few roundings of the layers may differ.
        TestCheckpoints.AssertClose(expected, actual, 0.05, "bf16 decode-step logits");
        Assert.True(expected.abs().max().item<float>() > 0.1f, "the logits are not trivially small");
    }
}

/// <summary>RMSNorm and rotary-embedding kernels against the libtorch expressions they replace.</summary>
[Collection(nameof(CpuKernelSwitch))]
public sealed class CpuRowKernelTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 384, 1)]
    [InlineData(ScalarType.Float32, 37, 3)]                                                        // a scalar tail per row
    [InlineData(ScalarType.BFloat16, 384, 2)]
    [InlineData(ScalarType.BFloat16, 37, 1)]
    public void RmsNorm_MatchesTheLibTorchExpression(ScalarType dtype, long d, long rows)
    {
        using var norm = new RmsNorm(d, 1e-5, CPU, dtype);
        using var generator = new Generator(21, CPU);
        using var noGrad = no_grad();
        norm.Weight.copy_(normal(1, 0.2, [d], generator: generator).to_type(dtype));
        using Tensor x = (randn([rows, 1, d], generator: generator) * 3).to_type(dtype);

        using Tensor expected = norm.call(x);
        using Tensor? actual = CpuRowKernels.TryRmsNorm(x, norm.Weight, 1e-5);

        Assert.NotNull(actual);
        // Only the mean's summation order differs: f32 to rounding; bf16 by at most one step where a value sits on a boundary.
        double tolerance = dtype == ScalarType.Float32 ? 1e-5 : 1.0 / 64;
        TestCheckpoints.AssertClose(expected, actual, tolerance * expected.abs().max().to_type(ScalarType.Float32).item<float>(), $"{dtype} rms norm");
    }

    [Theory]
    [InlineData(ScalarType.Float32, 64, 1)]
    [InlineData(ScalarType.BFloat16, 64, 1)]
    [InlineData(ScalarType.BFloat16, 64, 3)]                                                       // several tokens: a strided view
    [InlineData(ScalarType.Float32, 12, 2)]                                                        // half of 6: the scalar path
    [InlineData(ScalarType.BFloat16, 12, 1)]
    public void Rope_IsBitIdenticalToTheLibTorchExpression(ScalarType dtype, int headDim, long t)
    {
        using var generator = new Generator(22, CPU);
        using var noGrad = no_grad();
        using Tensor positions = tensor(new long[] { 3, 4, 5, 7, 11, 13 }.Take((int)t).ToArray()).unsqueeze(0).expand(2, t); // [B,T]
        var (cos, sin) = Rope.Build(positions, headDim, 10000, dtype);
        using Tensor projected = randn([2, t, 6 * headDim], generator: generator).to_type(dtype);               // a linear layer's output
        using Tensor x = projected.view(2, t, 6, headDim).transpose(1, 2);                                       // [B,H,T,hd]

        using Tensor expected = Rope.Apply(x, cos, sin, ForwardKernels.LibTorch);
        using Tensor? actual = CpuRowKernels.TryRope(x, cos, sin);

        Assert.NotNull(actual);
        Assert.True(expected.eq(actual).all().item<bool>(), $"{dtype} hd {headDim} T {t}: max difference {(expected - actual).abs().max().to_type(ScalarType.Float64).item<double>()}");
        cos.Dispose();
        sin.Dispose();
    }

    [Fact]
    public void RowKernels_LeaveLargeInputsToLibTorch()
    {
        using var noGrad = no_grad();
        using Tensor w = ones(64);
        using Tensor large = randn(CpuKernels.MaxElements / 64 + 1, 64);
        Assert.Null(CpuRowKernels.TryRmsNorm(large, w, 1e-5));
        Assert.NotNull(CpuRowKernels.TryRmsNorm(large.narrow(0, 0, 2), w, 1e-5));
    }
}

/// <summary>One-token attention over a KV cache against libtorch's fused kernel.</summary>
[Collection(nameof(CpuKernelSwitch))]
public sealed class CpuDecodeAttentionTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 6, 2, false)]                                                  // grouped-query heads
    [InlineData(ScalarType.Float32, 4, 4, true)]                                                   // one kv head per head, padding
    [InlineData(ScalarType.BFloat16, 6, 2, true)]
    [InlineData(ScalarType.BFloat16, 4, 1, false)]
    public void Attend_MatchesScaledDotProductAttention(ScalarType dtype, int heads, int kvHeads, bool padded)
    {
        const int Batch = 2, Capacity = 20, Length = 13, Hd = 24;
        using var generator = new Generator(23, CPU);
        using var noGrad = no_grad();
        using Tensor keys = randn([Batch, kvHeads, Capacity, Hd], generator: generator).to_type(dtype);     // cache buffers
        using Tensor values = randn([Batch, kvHeads, Capacity, Hd], generator: generator).to_type(dtype);
        using Tensor k = keys.narrow(2, 0, Length);                                                      // the filled part
        using Tensor v = values.narrow(2, 0, Length);
        using Tensor q = randn([Batch, 1, heads, Hd], generator: generator).to_type(dtype).transpose(1, 2); // [B,H,1,Hd]
        using Tensor mask = ones([Batch, 1, 1, Length], ScalarType.Bool);
        if (padded)
        {
            mask[1, 0, 0].narrow(0, 0, 4).fill_(false);                                                // row 1 left-padded by 4
        }

        using Tensor expected = F.scaled_dot_product_attention(
            q, k.repeat_interleave(heads / kvHeads, 1), v.repeat_interleave(heads / kvHeads, 1), padded ? mask : null, 0.0, false);
        using Tensor? actual = CpuDecodeAttention.TryAttend(q, k, v, padded ? mask : null);

        Assert.NotNull(actual);
        // libtorch's fused kernel rounds the probabilities to bf16 before multiplying by v; the kernel keeps them in f32.
        TestCheckpoints.AssertClose(expected, actual, dtype == ScalarType.Float32 ? 1e-5 : 2e-2, $"{dtype} H {heads} KvH {kvHeads}");
    }

    [Fact]
    public void Attend_Declines_SeveralQueriesAndOtherMasks()
    {
        using var noGrad = no_grad();
        using Tensor k = randn(1, 2, 5, 8);
        Assert.Null(CpuDecodeAttention.TryAttend(randn(1, 2, 2, 8), k, k, null));            // two queries
        Assert.Null(CpuDecodeAttention.TryAttend(randn(1, 2, 1, 8), k, k, zeros(1, 1, 1, 5))); // a float mask
        Assert.Null(CpuDecodeAttention.TryAttend(randn(1, 3, 1, 8), k, k, null));            // 3 heads over 2
        Assert.NotNull(CpuDecodeAttention.TryAttend(randn(1, 4, 1, 8), k, k, null));
    }
}

/// <summary>The fork-join the matrix-vector kernel splits its rows over.</summary>
public sealed class CpuWorkersTests
{
    [Fact]
    public void For_RunsEveryPartOnce()
    {
        int[] runs = new int[7];
        CpuWorkers.For(runs.Length, p => Interlocked.Increment(ref runs[p]));
        Assert.All(runs, r => Assert.Equal(1, r));
    }

    [Theory]
    [InlineData(2)]                                                                                 // on a worker
    [InlineData(0)]                                                                                 // on the calling thread
    public void For_ReportsAFailingPart_AndKeepsWorking(int failing)
    {
        var failure = Assert.Throws<AggregateException>(() => CpuWorkers.For(3, p =>
        {
            if (p == failing)
            {
                throw new InvalidOperationException($"part {p}");
            }
        }));
        Assert.Equal($"part {failing}", failure.InnerException!.Message);

        int done = 0;
        CpuWorkers.For(3, _ => Interlocked.Increment(ref done));
        Assert.Equal(3, done);
    }

    [Fact]
    public void For_FromSeveralThreadsAtOnce_RunsEveryPart()
    {
        int done = 0;
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 50; i++)
            {
                CpuWorkers.For(3, _ => Interlocked.Increment(ref done));
            }
        });
        Assert.Equal(8 * 50 * 3, done);
    }
}
