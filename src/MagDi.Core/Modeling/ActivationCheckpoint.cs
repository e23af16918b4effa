using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// Activation checkpointing for one decoder layer: the forward runs without keeping activations, the backward
/// recomputes the layer with gradients enabled and differentiates it (torch.utils.checkpoint, reentrant variant).
/// The CPU random-number state is restored for the recomputation so dropout (LoRA) draws the same masks.
/// </summary>
internal static class ActivationCheckpoint
{
    public static Tensor Run(DecoderLayer layer, Tensor x, LayerContext ctx)
    {
        Parameter[] trainable = layer.parameters().Where(p => p.requires_grad).ToArray();
        // The layer context's tensors belong to the caller's dispose scope; the recomputation needs its own handles.
        var kept = new LayerContext(Keep(ctx.Cos)!, Keep(ctx.Sin)!, Keep(ctx.Mask), ctx.IsCausal, null, ctx.PastLength);
        var call = new Call(layer, kept, trainable, get_rng_state().DetachFromDisposeScope());
        var args = new object[2 + trainable.Length];
        args[0] = call;
        args[1] = x;
        trainable.CopyTo(args, 2);
        return CheckpointFunction.apply(args);
    }

    private static Tensor? Keep(Tensor? t) => t?.alias().DetachFromDisposeScope();

    internal sealed record Call(DecoderLayer Layer, LayerContext Context, Parameter[] Trainable, Tensor RngState);

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
                using Tensor rngAfter = get_rng_state();
                set_rng_state(call.RngState);
                using Tensor y = call.Layer.ForwardCore(xd, call.Context);
                set_rng_state(rngAfter);
                var inputs = new List<Tensor> { xd };
                inputs.AddRange(call.Trainable);
                IList<Tensor> grads = autograd.grad([y], inputs, [grad_output], allow_unused: true);
                result.AddRange(grads);
            }

            call.RngState.Dispose();
            call.Context.Cos.Dispose();
            call.Context.Sin.Dispose();
            call.Context.Mask?.Dispose();
            return result;
        }
    }
}
