namespace MagDi;

/// <summary>
/// The <see cref="AppContext"/> switches that turn MagDi's half-precision training kernels off, read by MagDi.Core
/// (the fused RMSNorm and rotary nodes, the LoRA dropout node) and MagDi.Losses (the bf16 cross-entropy kernel).
/// </summary>
/// <remarks>This file is compiled into MagDi.Core and linked into MagDi.Losses, so both read the same names; it is internal to each.</remarks>
internal static class KernelSwitches
{
    /// <summary>Forwards with autograd use libtorch's op-by-op graph; also turns off everything <see cref="DisableCpuTrainingKernels"/> does.</summary>
    internal const string DisableFusedBackward = "MagDi.DisableFusedBackward";

    /// <summary>Turns off the C# kernels of bf16 training on the CPU: the bf16 cross-entropy, the LoRA dropout node and RMSNorm's bf16 input gradient.</summary>
    internal const string DisableCpuTrainingKernels = "MagDi.DisableCpuTrainingKernels";

    /// <summary>Whether the switch <paramref name="name"/> is set to true.</summary>
    internal static bool IsSet(string name) => AppContext.TryGetSwitch(name, out bool value) && value;
}
