using MagDi.Graphs.Gcn;
using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>The result of <see cref="NodeClassificationLoss.Compute"/>.</summary>
public sealed class NodeClassificationLossResult
{
    internal NodeClassificationLossResult(Tensor loss, int nodeCount, int correctlyClassified)
    {
        Loss = loss;
        NodeCount = nodeCount;
        CorrectlyClassified = correctlyClassified;
    }

    /// <summary>Scalar loss, mean over the labelled nodes (exactly 0, connected to the logits, when there are none).</summary>
    public Tensor Loss { get; }

    /// <summary>Number of labelled nodes (labels other than <see cref="NodeLabels.Ignore"/>).</summary>
    public int NodeCount { get; }

    /// <summary>Labelled nodes whose arg-max class equals the label.</summary>
    public int CorrectlyClassified { get; }

    /// <summary>Fraction of labelled nodes classified right, or null without labelled nodes.</summary>
    public double? Accuracy => NodeCount == 0 ? null : (double)CorrectlyClassified / NodeCount;
}

/// <summary>
/// Node-classification cross-entropy over all labelled nodes of all graphs of the batch (paper equation 3), mean over nodes.
/// Nodes labelled <see cref="NodeLabels.Ignore"/> (padding in a padded batch without a padding class) are left out.
/// </summary>
public static class NodeClassificationLoss
{
    /// <summary>Computes the loss.</summary>
    /// <param name="logits">Node logits [N, C].</param>
    /// <param name="labels">Labels [N] (class indices in [0, C), or <see cref="NodeLabels.Ignore"/>).</param>
    /// <exception cref="ArgumentException">The shapes do not match, or a label is outside [0, C) and not ignored.</exception>
    public static NodeClassificationLossResult Compute(Tensor logits, Tensor labels)
    {
        TensorChecks.Rank(logits, 2, nameof(logits), "[N, C]");
        TensorChecks.Rank(labels, 1, nameof(labels), "[N]");
        if (labels.shape[0] != logits.shape[0])
        {
            throw new ArgumentException($"labels {TensorChecks.Shape(labels)} must have one entry per row of logits {TensorChecks.Shape(logits)}.", nameof(labels));
        }

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        long classes = logits.shape[1];
        Tensor target = labels.to(ScalarType.Int64);
        Tensor bad = target.NotEqual(NodeLabels.Ignore).logical_and(target.LessThan(0).logical_or(target.AtLeast(classes))).nonzero();
        if (bad.shape[0] > 0)
        {
            long node = bad[0, 0].item<long>();
            throw new ArgumentException($"Node {node} has label {target[node].item<long>()}, outside [0, {classes}) for a head with {classes} classes.", nameof(labels));
        }

        ScalarType dtype = TensorChecks.ComputeType(logits.dtype);
        Tensor rows = target.NotEqual(NodeLabels.Ignore).nonzero().squeeze(1); // [K]
        int count = (int)rows.shape[0];
        if (count == 0)
        {
            return new NodeClassificationLossResult(TensorChecks.ConnectedZero(logits, dtype).MoveToOuterDisposeScope(), 0, 0);
        }

        Tensor selected = logits.index_select(0, rows).to(dtype);           // [K, C]
        Tensor selectedTarget = target.index_select(0, rows);              // [K]
        Tensor loss = nn.functional.cross_entropy(selected, selectedTarget);
        int correct = (int)selected.argmax(1).eq(selectedTarget).sum().item<long>();
        return new NodeClassificationLossResult(loss.MoveToOuterDisposeScope(), count, correct);
    }
}
