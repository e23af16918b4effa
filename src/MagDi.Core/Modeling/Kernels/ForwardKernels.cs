using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// How one forward computes the operations that have a CPU decoding kernel: linear layers, RMSNorm, rotary embedding
/// and the attention of one query token over the KV cache. <see cref="CausalLanguageModel"/> picks one instance per
/// forward (<see cref="For"/>) and hands it to every layer through <see cref="LayerContext.Kernels"/>; nothing else
/// decides, and no state outside the forward's arguments changes what a layer computes.
/// <list type="bullet">
/// <item><see cref="LibTorch"/>: libtorch's ops only (prefill, scoring, GPU, and every forward when the
/// <c>MagDi.DisableFusedBackward</c> switch is set).</item>
/// <item><see cref="Training"/>: a forward with autograd (training, recomputation): libtorch's ops, with RMSNorm and
/// rotary embedding of half-precision CPU tensors as single autograd nodes (<see cref="RmsNormFunction"/>,
/// <see cref="RopeFunction"/>) whose backward takes a few element-wise passes instead of autograd's op-by-op graph.</item>
/// <item><see cref="CpuDecode"/>: a one-token decoding step without autograd: the C# SIMD kernels
/// (<see cref="CpuGemv"/>, <see cref="CpuRowKernels"/>, <see cref="CpuDecodeAttention"/>) wherever they accept the
/// tensors (CPU, float32 or bfloat16, small), libtorch's ops elsewhere.</item>
/// </list>
/// </summary>
internal abstract class ForwardKernels
{
    /// <summary>libtorch's ops for everything.</summary>
    public static ForwardKernels LibTorch { get; } = new LibTorchKernels();

    /// <summary>The CPU decoding kernels where they apply, libtorch's ops elsewhere.</summary>
    public static ForwardKernels CpuDecode { get; } = new CpuDecodeKernels();

    /// <summary>libtorch's ops, with fused autograd nodes for RMSNorm and rotary embedding of half-precision CPU tensors.</summary>
    public static ForwardKernels Training { get; } = new TrainingKernels();

    /// <summary>The <see cref="AppContext"/> switch that makes forwards with autograd use <see cref="LibTorch"/> rather than <see cref="Training"/>.</summary>
    internal const string DisableFusedBackwardSwitch = KernelSwitches.DisableFusedBackward;

    /// <summary>
    /// The kernels of one forward: <see cref="CpuDecode"/> for a decoding step (one token per row, no autograd) when SIMD
    /// is available and the <c>MagDi.DisableCpuKernels</c> <see cref="AppContext"/> switch is off; <see cref="LibTorch"/>
    /// otherwise. Prefill, recomputation and training keep libtorch's threaded kernels, which <see cref="CpuWorkers"/>
    /// would compete with for cores. A forward with autograd (<paramref name="autograd"/>) gets <see cref="Training"/>
    /// unless the <c>MagDi.DisableFusedBackward</c> <see cref="AppContext"/> switch is set.
    /// </summary>
    public static ForwardKernels For(bool decodingStep, bool autograd) =>
        decodingStep && Vector256.IsHardwareAccelerated && !IsSet(CpuKernels.DisableSwitch)
            ? CpuDecode
            : autograd && !IsSet(DisableFusedBackwardSwitch) ? Training : LibTorch;

    /// <summary>
    /// The <see cref="AppContext"/> switch that turns off the C# kernels of bf16 training on the CPU: the cross-entropy of
    /// bf16 logits (MagDi.Losses), the LoRA dropout node (<see cref="Lora.LoraDropoutFunction"/>) and the bf16 input
    /// gradient of <see cref="RmsNormFunction"/>; <c>MagDi.DisableFusedBackward</c> turns off the first two and the RMSNorm node.
    /// </summary>
    internal const string DisableCpuTrainingKernelsSwitch = KernelSwitches.DisableCpuTrainingKernels;

    private static bool IsSet(string name) => KernelSwitches.IsSet(name);

    /// <summary>x [..., K] · W [N, K]ᵀ + b [N] as [..., N].</summary>
    public abstract Tensor Linear(Tensor x, Tensor weight, Tensor? bias);

    /// <summary>
    /// The output of a projection module (a linear layer, or a LoRA layer in its place). <see cref="LibTorch"/> calls the
    /// module, running its hooks; <see cref="CpuDecode"/> computes a plain linear layer with its kernel and a LoRA layer
    /// (<see cref="IKernelModule"/>) with these kernels, without module hooks, and calls any other module.
    /// </summary>
    public abstract Tensor Project(nn.Module<Tensor, Tensor> module, Tensor x);

    /// <summary>Hugging Face RMSNorm of x [.., d], or null to let <see cref="RmsNorm"/> compute it with libtorch.</summary>
    public abstract Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps);

    /// <summary>Rotary embedding of x [B,H,T,hd] by cos, sin [B,1,T,hd], or null to let <see cref="Rope"/> compute it with libtorch.</summary>
    public abstract Tensor? TryRope(Tensor x, Tensor cos, Tensor sin);

    /// <summary>Attention of q [B,H,1,hd] over k, v [B,KvH,S,hd] with mask bool [B|1,1,1,S] or null, or null to let libtorch compute it.</summary>
    public abstract Tensor? TryAttendOne(Tensor q, Tensor k, Tensor v, Tensor? mask);

    private class LibTorchKernels : ForwardKernels
    {
        public override Tensor Linear(Tensor x, Tensor weight, Tensor? bias) => F.linear(x, weight, bias);

        public override Tensor Project(nn.Module<Tensor, Tensor> module, Tensor x) => module.call(x);

        public override Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps) => null;

        public override Tensor? TryRope(Tensor x, Tensor cos, Tensor sin) => null;

        public override Tensor? TryAttendOne(Tensor q, Tensor k, Tensor v, Tensor? mask) => null;
    }

    /// <summary>libtorch's ops, except RMSNorm and rotary embedding as single autograd nodes where they apply.</summary>
    private sealed class TrainingKernels : LibTorchKernels
    {
        public override Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps) =>
            IsHalfOnCpu(x) && x.dtype == weight.dtype && is_grad_enabled() && (x.requires_grad || weight.requires_grad)
                ? RmsNormFunction.Apply(x, weight, eps)
                : null;

        public override Tensor? TryRope(Tensor x, Tensor cos, Tensor sin) =>
            IsHalfOnCpu(x) && x.dtype == cos.dtype && is_grad_enabled() && x.requires_grad && !cos.requires_grad && !sin.requires_grad
                ? RopeFunction.Apply(x, cos, sin)
                : null;

        // float32 keeps libtorch's op-by-op graph, so its gradients stay bit for bit those of Hugging Face's expressions.
        private static bool IsHalfOnCpu(Tensor x) =>
            x.dtype is ScalarType.BFloat16 or ScalarType.Float16 && x.device_type == DeviceType.CPU;
    }

    private sealed class CpuDecodeKernels : ForwardKernels
    {
        public override Tensor Linear(Tensor x, Tensor weight, Tensor? bias) => CpuGemv.TryLinear(x, weight, bias) ?? F.linear(x, weight, bias);

        public override Tensor Project(nn.Module<Tensor, Tensor> module, Tensor x) => module switch
        {
            TorchSharp.Modules.Linear linear => CpuGemv.TryLinear(x, linear.weight!, linear.bias) ?? module.call(x),
            IKernelModule kernelModule => kernelModule.Forward(x, this),
            _ => module.call(x),
        };

        public override Tensor? TryRmsNorm(Tensor x, Tensor weight, double eps) => CpuRowKernels.TryRmsNorm(x, weight, eps);

        public override Tensor? TryRope(Tensor x, Tensor cos, Tensor sin) => CpuRowKernels.TryRope(x, cos, sin);

        public override Tensor? TryAttendOne(Tensor q, Tensor k, Tensor v, Tensor? mask) => CpuDecodeAttention.TryAttend(q, k, v, mask);
    }
}

/// <summary>A projection module whose forward takes the forward's <see cref="ForwardKernels"/> (a LoRA layer's base product).</summary>
internal interface IKernelModule
{
    /// <summary>The module's output for x, computed with <paramref name="kernels"/>.</summary>
    Tensor Forward(Tensor x, ForwardKernels kernels);
}
