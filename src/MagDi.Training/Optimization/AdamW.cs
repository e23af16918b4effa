using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training.Optimization;

/// <summary>
/// TorchSharp's <see cref="TorchSharp.Modules.AdamW"/> with the same update, state and checkpoint format, whose step keeps every
/// <see cref="Scalar"/> it hands to libtorch alive until the call returns.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>AdamW.step</c> passes its coefficients (<c>mul_(beta1)</c>, <c>add_(grad, alpha: 1 - beta1)</c>,
/// <c>addcdiv_(…, value: -step_size)</c>, …) as temporary Scalars that only their finalizer frees; a garbage collection during
/// one of those calls can free a coefficient while libtorch reads it (see <c>Scalars</c>). This step is TorchSharp's, op for
/// op, with the coefficients held in <c>using</c> declarations, so its updates are bit for bit the same (tested). It keeps
/// the name AdamW because the state file starts with the optimizer's type name: checkpoints written with either load into
/// the other.
/// </remarks>
internal sealed class AdamW : TorchSharp.Modules.AdamW
{
    public AdamW(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
    {
    }

    /// <inheritdoc />
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, lr = options.LearningRate!.Value;
        double weightDecay = options.weight_decay!.Value, eps = options.eps!.Value;
        bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
        using Scalar decay = Scalars.Of(1 - (lr * weightDecay)), b1 = Scalars.Of(beta1), b2 = Scalars.Of(beta2);
        using Scalar oneMinusB1 = Scalars.Of(1 - beta1), oneMinusB2 = Scalars.Of(1 - beta2), epsilon = Scalars.Of(eps);
        foreach (Parameter param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            if (param.grad is not { } gradient)
            {
                continue;
            }

            Tensor grad = maximize ? -gradient : gradient;
            state.step += 1;
            param.mul_(decay);
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
            Tensor second = state.exp_avg_sq;
            if (amsgrad)
            {
                Tensor previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                second = state.max_exp_avg_sq;
            }

            using Scalar root = Scalars.Of(Math.Sqrt(biasCorrection2)), stepSize = Scalars.Of(-(lr / biasCorrection1));
            Tensor denom = second.sqrt().div(root).add_(epsilon, Scalars.One);
            param.addcdiv_(state.exp_avg, denom, stepSize);
        }
    }, closure);
}
