using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// Activation checkpointing for one decoder layer: the forward runs without keeping activations, the backward
/// recomputes the layer with gradients enabled and differentiates it (torch.utils.checkpoint, reentrant variant).
/// The recomputation draws the same dropout (LoRA) masks: on the CPU the generator's state is saved and restored; on
/// a device whose generator cannot be saved (CUDA) the layer was seeded (<see cref="LayerRandomness"/>) and is
/// seeded again with the same value.
/// </summary>
internal static class ActivationCheckpoint
{
    /// <param name="layer">The layer.</param>
    /// <param name="x">The layer input.</param>
    /// <param name="ctx">Rotary tables and mask.</param>
    /// <param name="deviceSeed">The seed of <see cref="LayerRandomness.SeedLayer"/> when the layer's device generator was seeded, else null.</param>
    public static Tensor Run(DecoderLayer layer, Tensor x, LayerContext ctx, long? deviceSeed)
    {
        Parameter[] trainable = layer.parameters().Where(p => p.requires_grad).ToArray();
        // The layer context's tensors belong to the caller's dispose scope; the recomputation needs its own handles.
        var kept = ctx with { Cos = Keep(ctx.Cos)!, Sin = Keep(ctx.Sin)!, Mask = Keep(ctx.Mask), Cache = null };
        var call = new Call(layer, kept, trainable, deviceSeed is null ? get_rng_state().DetachFromDisposeScope() : null, deviceSeed);
        var args = new object[2 + trainable.Length];
        args[0] = call;
        args[1] = x;
        trainable.CopyTo(args, 2);
        return CheckpointFunction.apply(args);
    }

    private static Tensor? Keep(Tensor? t) => t?.alias().DetachFromDisposeScope();

    internal sealed record Call(DecoderLayer Layer, LayerContext Context, Parameter[] Trainable, Tensor? CpuRngState, long? DeviceSeed);

    internal sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => "MagDiDecoderLayerCheckpoint";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var call = (Call)vars[0];
            var x = (Tensor)vars[1];
            ctx.save_data("call", call);
            ctx.save_for_backward([x]);
            return call.Layer.ForwardCore(x, call.Context);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var call = (Call)ctx.get_data("call");
            Tensor saved = ctx.get_saved_variables()[0];
            var result = new List<Tensor> { null! };
            using (enable_grad())
            {
                using Tensor xd = saved.detach().requires_grad_(true);
                using Tensor? rngAfter = call.CpuRngState is null ? null : get_rng_state();
                if (call.DeviceSeed is long seed)
                {
                    LayerRandomness.Reseed(seed);
                }
                else
                {
                    set_rng_state(call.CpuRngState!);
                }

                using Tensor y = call.Layer.ForwardCore(xd, call.Context);
                if (rngAfter is not null)
                {
                    set_rng_state(rngAfter);
                }

                var inputs = new List<Tensor> { xd };
                inputs.AddRange(call.Trainable);
                IList<Tensor> grads = autograd.grad([y], inputs, [grad_output], allow_unused: true);
                result.AddRange(grads);
            }

            call.CpuRngState?.Dispose();
            call.Context.Cos.Dispose();
            call.Context.Sin.Dispose();
            call.Context.Mask?.Dispose();
            return result;
        }
    }
}
