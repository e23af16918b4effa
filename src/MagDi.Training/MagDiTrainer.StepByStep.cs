using MagDi.Losses;
using MagDi.Modeling;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>The loss of one micro-batch: the tensor to call backward on and its metrics.</summary>
internal sealed record StepLoss(Tensor Total, IReadOnlyDictionary<string, double> Metrics);

public sealed partial class MagDiTrainer
{
    /// <summary>
    /// DSS-MT: one forward of the micro-batch's label and rationale rows, L = L_label + λ·L_rationale
    /// (<see cref="StepByStepLoss"/>). The rows of a MAG are its valid nodes' two tasks (see <see cref="TrainingSet"/>).
    /// </summary>
    private StepLoss ForwardStepByStep(MagBatch batch)
    {
        CausalLMOutput output = _model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
        StepByStepLossResult r = StepByStepLoss.Compute(
            output.LastHiddenState!, batch.Labels, batch.RationaleLabels!, _model.ComputeLogits, Options.RationaleWeight);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [LossReport.Keys.Total] = r.Total.to(ScalarType.Float64).item<double>(),
            [LossReport.Keys.Label] = r.Label.to(ScalarType.Float64).item<double>(),
            [LossReport.Keys.Rationale] = r.Rationale.to(ScalarType.Float64).item<double>(),
            ["label/tokens"] = r.LabelTokens,
            ["rationale/tokens"] = r.RationaleTokens,
        };
        return new StepLoss(r.Total, metrics);
    }
}
