using MagDi.Modeling.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MagDi.Lora;

/// <summary>
/// A linear layer with a low-rank adapter (PEFT <c>lora.Linear</c>): y = W x + b + (alpha/r) · B(A(dropout(x))).
/// A [r,in] starts Kaiming-uniform, B [out,r] starts at zero, so the adapter is an exact no-op at first.
/// The base weight keeps its key (<c>weight</c>, <c>bias</c>) and is frozen; <c>lora_A.weight</c> and
/// <c>lora_B.weight</c> are float32 whatever the base dtype. With a float32 base the adapter branch runs in float32;
/// with a bfloat16 base on the CPU it runs in bfloat16 from the f32 weights (cast once per call; gradients reach the
/// f32 weights), and its dropout mask comes from <see cref="LoraDropout"/> rather than libtorch's generator.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>, IKernelModule
{
    [ThreadStatic] private static bool _float32Branch;

    [ComponentName(Name = "weight")] private readonly Parameter _weight;
    [ComponentName(Name = "bias")] private readonly Parameter? _bias;
    [ComponentName(Name = "lora_A")] private readonly Linear _loraA;
    [ComponentName(Name = "lora_B")] private readonly Linear _loraB;
    private readonly double _dropout;

    /// <summary>Wraps <paramref name="baseLayer"/>, sharing (not copying) its weight and bias, which are frozen.</summary>
    /// <param name="baseLayer">The linear layer to adapt.</param>
    /// <param name="rank">Rank r.</param>
    /// <param name="alpha">Alpha (scaling alpha / r).</param>
    /// <param name="dropout">Adapter-branch dropout probability.</param>
    /// <param name="generator">Random source for A's initialisation; null uses the global generator.</param>
    public LoraLinear(Linear baseLayer, int rank, double alpha, double dropout = 0.0, Generator? generator = null) : base("LoraLinear")
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        _weight = new Parameter(baseLayer.weight!.detach(), requires_grad: false);
        _bias = baseLayer.bias is null ? null : new Parameter(baseLayer.bias.detach(), requires_grad: false);
        long outFeatures = _weight.shape[0], inFeatures = _weight.shape[1];
        Device device = _weight.device;
        _loraA = nn.Linear(inFeatures, rank, hasBias: false, device: device, dtype: ScalarType.Float32);
        _loraB = nn.Linear(rank, outFeatures, hasBias: false, device: device, dtype: ScalarType.Float32);
        using (no_grad())
        {
            // PEFT: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0.
            double bound = 1.0 / Math.Sqrt(inFeatures);
            using Tensor u = rand([rank, inFeatures], ScalarType.Float32, CPU, generator: generator);
            _loraA.weight!.copy_(u.Times(2L).Minus(1.0).Times(bound));
            _loraB.weight!.zero_();
        }

        Rank = rank;
        Alpha = alpha;
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>Rank r.</summary>
    public int Rank { get; }

    /// <summary>Alpha.</summary>
    public double Alpha { get; }

    /// <summary>alpha / r.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>Whether the update is currently folded into the base weight.</summary>
    public bool IsMerged { get; private set; }

    /// <summary>The adapter's A matrix [r,in] (<c>lora_A.weight</c>, f32, trainable).</summary>
    public Parameter LoraA => _loraA.weight!;

    /// <summary>The adapter's B matrix [out,r] (<c>lora_B.weight</c>, f32, trainable).</summary>
    public Parameter LoraB => _loraB.weight!;

    /// <summary>The frozen base weight [out,in].</summary>
    public Parameter Weight => _weight;

    /// <summary>The frozen base bias, if any.</summary>
    public Parameter? Bias => _bias;

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Forward(x, ForwardKernels.LibTorch);

    /// <summary>The output for x [..., in] as [..., out], the base product computed with the forward's <paramref name="kernels"/>.</summary>
    Tensor IKernelModule.Forward(Tensor x, ForwardKernels kernels) => Forward(x, kernels);

    private Tensor Forward(Tensor x, ForwardKernels kernels)
    {
        using var scope = NewDisposeScope();
        Tensor y = kernels.Linear(x, _weight, _bias); // [..., out]
        if (!IsMerged)
        {
            y = UsesLowPrecisionBranch(x) ? LowPrecisionBranch(x, y) : Float32Branch(x, y);
        }

        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The adapter branch in float32: y + (scaling · B(A(dropout(x in f32)))) cast to y's dtype.</summary>
    private Tensor Float32Branch(Tensor x, Tensor y)
    {
        Tensor a = x.to_type(ScalarType.Float32);
        if (training && _dropout > 0)
        {
            a = F.dropout(a, _dropout, training: true);
        }

        return y.Plus(_loraB.call(_loraA.call(a)).Times(Scaling).to_type(y.dtype));
    }

    /// <summary>For tests: runs the float32 adapter branch (the only one before) for every dtype, on this thread until disposed.</summary>
    internal static IDisposable UseFloat32BranchForTests()
    {
        _float32Branch = true;
        return new Float32BranchScope();
    }

    private bool UsesLowPrecisionBranch(Tensor x) =>
        !_float32Branch && x.dtype == ScalarType.BFloat16 && _weight.dtype == ScalarType.BFloat16 && x.device_type == DeviceType.CPU;

    /// <summary>
    /// The adapter branch of a bfloat16 layer on the CPU, computed in bfloat16 from the f32 master weights:
    /// y + (scaling / (1 - p)) · ((x ⊙ m) Aᵀ) Bᵀ, m the 0/1 keep-mask of <see cref="LoraDropout"/> (all ones in eval or for p = 0),
    /// x ⊙ m one autograd node that redraws m from its seed in the backward (<see cref="LoraDropoutFunction"/>).
    /// A and B are cast to bfloat16 once per call, the scale goes into B's cast, and x ⊙ m is exact in bfloat16, so
    /// the branch is two thin matrix products plus the mask product; their gradients reach A and B in f32 through the casts.
    /// The f32 branch cast every activation to f32 and back and drew the mask with libtorch's element-by-element generator,
    /// which together cost more than the base projection.
    /// </summary>
    private Tensor LowPrecisionBranch(Tensor x, Tensor y)
    {
        long inFeatures = _weight.shape[1];
        double scale = Scaling;
        Tensor input = x;                                                                        // [..., in]
        if (training && _dropout > 0)
        {
            long seed = LoraDropout.DrawSeed();
            if (LoraDropoutFunction.Enabled)
            {
                input = LoraDropoutFunction.Apply(x, _dropout, seed);                             // x ⊙ m, no mask tensor kept
            }
            else
            {
                using Tensor keep = LoraDropout.KeepMask(x.shape, _dropout, seed);                 // [..., in] of 0/1
                input = x * keep;
            }

            scale /= 1 - _dropout;
        }

        Tensor a = _loraA.weight!.to_type(ScalarType.BFloat16);                                 // [r,in]
        Tensor b = _loraB.weight!.Times(scale).to_type(ScalarType.BFloat16);                       // [out,r]
        Tensor z = input.reshape(-1, inFeatures).matmul(a.t());                                 // [M,r]
        return y.Plus(z.matmul(b.t()).view(y.shape));                                               // [..., out]
    }

    /// <summary>The update ΔW = (alpha/r) · B·A [out,in] in f32.</summary>
    public Tensor DeltaWeight()
    {
        using var noGrad = no_grad();
        return _loraB.weight!.matmul(_loraA.weight!).Times(Scaling);
    }

    /// <summary>Folds the update into the base weight (W += ΔW). Fails, leaving W unchanged, when ΔW has NaN or infinity.</summary>
    /// <exception cref="InvalidOperationException">Already merged, or ΔW is not finite.</exception>
    public void Merge()
    {
        if (IsMerged)
        {
            throw new InvalidOperationException("The adapter is already merged.");
        }

        using Tensor delta = DeltaWeight();
        if (!delta.isfinite().all().item<bool>())
        {
            throw new InvalidOperationException("Refusing to merge: the LoRA update contains NaN or infinite values.");
        }

        using (no_grad())
        {
            _weight.copy_(_weight.to_type(ScalarType.Float32).Plus(delta).to_type(_weight.dtype));
        }

        IsMerged = true;
    }

    /// <summary>Takes the update back out of the base weight (W -= ΔW); exact in f32, approximate for bf16/f16 bases.</summary>
    /// <exception cref="InvalidOperationException">Not merged.</exception>
    public void Unmerge()
    {
        if (!IsMerged)
        {
            throw new InvalidOperationException("The adapter is not merged.");
        }

        using Tensor delta = DeltaWeight();
        using (no_grad())
        {
            _weight.copy_((_weight.to_type(ScalarType.Float32) - delta).to_type(_weight.dtype));
        }

        IsMerged = false;
    }

    private sealed class Float32BranchScope : IDisposable
    {
        public void Dispose() => _float32Branch = false;
    }
}
