using MagDi.Modeling.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Lora;

/// <summary>
/// Inverted-dropout's mask product x ⊙ m of the bfloat16 LoRA branch as one autograd node that keeps no mask: the
/// forward writes x ⊙ m in one pass from the mask's seed (<see cref="LoraDropout.Apply"/>), and the backward redraws
/// the same mask from that seed to write g ⊙ m. Autograd's form drew a [.., in] mask tensor, multiplied by it, and kept
/// it for the backward's product: two extra passes and one tensor per adapted projection (42 per step of the
/// benchmark model). The values are bit for bit those of <c>x * KeepMask(...)</c> and its gradient (tested); the
/// 1 / (1 − p) of inverted dropout stays in the branch's scale, as before.
/// </summary>
internal sealed class LoraDropoutFunction : autograd.SingleTensorFunction<LoraDropoutFunction>
{
    [ThreadStatic] private static bool _maskProductForTests;

    public override string Name => "MagDiLoraDropout";

    /// <summary>For tests: the branch multiplies by a mask tensor (the form before this node) on this thread until disposed, the other kernels unchanged.</summary>
    internal static IDisposable UseMaskProductForTests()
    {
        _maskProductForTests = true;
        return new MaskProductScope();
    }

    /// <summary>
    /// Whether the LoRA branch uses this node: unless the <c>MagDi.DisableCpuTrainingKernels</c> or
    /// <c>MagDi.DisableFusedBackward</c> <see cref="AppContext"/> switch is set.
    /// </summary>
    public static bool Enabled => !_maskProductForTests && !KernelSwitches.IsSet(KernelSwitches.DisableCpuTrainingKernels) && !KernelSwitches.IsSet(KernelSwitches.DisableFusedBackward);

    /// <summary>x [..., in] (bfloat16, CPU) times the 0/1 keep-mask of drop probability <paramref name="p"/> drawn from <paramref name="seed"/>.</summary>
    public static Tensor Apply(Tensor x, double p, long seed) => apply(x, p, seed);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        double p = (double)vars[1];
        long seed = (long)vars[2];
        ctx.save_data("p", p);
        ctx.save_data("seed", seed);
        return LoraDropout.Apply(x, p, seed);                                           // [..., in]
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        double p = (double)ctx.get_data("p");
        long seed = (long)ctx.get_data("seed");
        return [LoraDropout.Apply(grad_output, p, seed), null!, null!];                // g ⊙ m, [..., in]
    }

    private sealed class MaskProductScope : IDisposable
    {
        public void Dispose() => _maskProductForTests = false;
    }
}
