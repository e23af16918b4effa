using System.Collections.ObjectModel;

namespace MagDi.Losses;

/// <summary>
/// The plain numbers of one objective evaluation, as slash-named metrics (<see cref="Keys"/>), ready for logs and JSONL.
/// </summary>
public sealed class LossReport
{
    internal LossReport(IDictionary<string, double> metrics)
    {
        Metrics = new ReadOnlyDictionary<string, double>(metrics);
    }

    /// <summary>All metrics by key. Accuracies are present only when there was something to measure.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; }

    /// <summary>The weighted total L.</summary>
    public double Total => Metrics[Keys.Total];

    /// <summary>The unweighted next-token loss (0 when not computed).</summary>
    public double Nll => Metrics[Keys.Nll];

    /// <summary>The unweighted margin-ranking loss (0 when not computed or without pairs).</summary>
    public double Margin => Metrics[Keys.Margin];

    /// <summary>The unweighted node-classification loss (0 when not computed).</summary>
    public double Node => Metrics[Keys.Node];

    /// <summary>Fraction of pairs with s+ &gt; s−, or null without pairs.</summary>
    public double? MarginAccuracy => Metrics.TryGetValue(Keys.MarginAccuracy, out double v) ? v : null;

    /// <summary>Fraction of labelled nodes classified right, or null when the node loss was not computed.</summary>
    public double? NodeAccuracy => Metrics.TryGetValue(Keys.NodeAccuracy, out double v) ? v : null;

    /// <summary>The metric keys.</summary>
    public static class Keys
    {
        /// <summary><c>loss/total</c>: α·L+ + β·L− + γ·L_I.</summary>
        public const string Total = "loss/total";

        /// <summary><c>loss/nll</c>: next-token loss L+.</summary>
        public const string Nll = "loss/nll";

        /// <summary><c>loss/margin</c>: margin-ranking loss L−.</summary>
        public const string Margin = "loss/margin";

        /// <summary><c>loss/node</c>: node-classification loss L_I.</summary>
        public const string Node = "loss/node";

        /// <summary><c>margin/accuracy</c>: fraction of pairs with s+ &gt; s−.</summary>
        public const string MarginAccuracy = "margin/accuracy";

        /// <summary><c>margin/pairs</c>: number of pairs.</summary>
        public const string MarginPairs = "margin/pairs";

        /// <summary><c>node/accuracy</c>: fraction of labelled nodes classified right.</summary>
        public const string NodeAccuracy = "node/accuracy";

        /// <summary><c>node/count</c>: number of labelled nodes.</summary>
        public const string NodeCount = "node/count";

        /// <summary><c>nll/tokens</c>: number of target tokens.</summary>
        public const string NllTokens = "nll/tokens";

        /// <summary><c>loss/label</c>: label-prediction loss of Distilling Step-by-Step (<see cref="StepByStepLoss"/>).</summary>
        public const string Label = "loss/label";

        /// <summary><c>loss/rationale</c>: rationale-generation loss of Distilling Step-by-Step (<see cref="StepByStepLoss"/>).</summary>
        public const string Rationale = "loss/rationale";
    }
}
