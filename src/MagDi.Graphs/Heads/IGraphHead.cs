using MagDi.Graphs.Gcn;
using static TorchSharp.torch;

namespace MagDi.Graphs.Heads;

/// <summary>
/// A module that classifies the nodes of a batch of MAGs: the graph head of the node-classification objective
/// (<see cref="GraphHeadKind"/>). Logits, not probabilities: the softmax lives in the cross-entropy.
/// </summary>
public interface IGraphHead
{
    /// <summary>Which head this is.</summary>
    GraphHeadKind Kind { get; }

    /// <summary>Number of node classes C.</summary>
    int Classes { get; }

    /// <summary>Classifies every node of <see cref="GraphHeadInput.Graphs"/>.</summary>
    /// <param name="input">The graphs and what this head reads: node features, or token states for <see cref="GraphHeadKind.TokenAttention"/>.</param>
    /// <returns>Logits [Graphs.NodeCount, C] in the batch's node layout (padding nodes included when padded).</returns>
    /// <exception cref="ArgumentException">The input this head needs is missing or mis-shaped.</exception>
    Tensor Classify(GraphHeadInput input);
}

/// <summary>What a graph head reads.</summary>
public sealed class GraphHeadInput
{
    /// <summary>The MAGs of the batch with their edges and labels. Required.</summary>
    public required GraphBatch Graphs { get; init; }

    /// <summary>
    /// One vector per real node [Graphs.RealNodeCount, d], in batch order: the pooled chain representations.
    /// Read by <see cref="GraphHeadKind.Gcn"/> and <see cref="GraphHeadKind.NodeAttention"/>.
    /// </summary>
    public Tensor? NodeFeatures { get; init; }

    /// <summary>The hidden states of each MAG's linearised interaction. Read by <see cref="GraphHeadKind.TokenAttention"/>.</summary>
    public LinearizedGraphStates? Tokens { get; init; }
}
