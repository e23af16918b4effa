using MagDi.Graphs.Gcn;
using static TorchSharp.torch;

namespace MagDi.Graphs.Heads;

/// <summary>Where one node's text lies in its MAG's linearised token sequence.</summary>
public readonly struct TokenSpan
{
    /// <summary>Creates a <see cref="TokenSpan"/>.</summary>
    /// <param name="graph">Index of the MAG in the batch (row of <see cref="LinearizedGraphStates.HiddenStates"/>).</param>
    /// <param name="start">First token position of the node's text.</param>
    /// <param name="length">Number of tokens (at least 1).</param>
    public TokenSpan(int graph, int start, int length)
    {
        Graph = graph;
        Start = start;
        Length = length;
    }

    /// <summary>Index of the MAG in the batch (row of <see cref="LinearizedGraphStates.HiddenStates"/>).</summary>
    public int Graph { get; }

    /// <summary>First token position of the node's text.</summary>
    public int Start { get; }

    /// <summary>Number of tokens (at least 1).</summary>
    public int Length { get; }
}

/// <summary>
/// The student's hidden states over each MAG of a batch written as one token sequence (all node texts in round order),
/// and each real node's span in it: the input of <see cref="TokenAttentionClassifier"/>.
/// </summary>
public sealed class LinearizedGraphStates
{
    /// <summary>Creates a <see cref="LinearizedGraphStates"/>.</summary>
    /// <param name="hiddenStates">[G, L, d]: one row per MAG, right-padded to the longest linearisation L.</param>
    /// <param name="attentionMask">[G, L]: 1 for tokens, 0 for padding.</param>
    /// <param name="nodeSpans">One span per real node of the batch, in batch order (graph 0's nodes, then graph 1's, ...).</param>
    public LinearizedGraphStates(Tensor hiddenStates, Tensor attentionMask, IReadOnlyList<TokenSpan> nodeSpans)
    {
        HiddenStates = hiddenStates;
        AttentionMask = attentionMask;
        NodeSpans = nodeSpans;
    }

    /// <summary>[G, L, d]: one row per MAG, right-padded to the longest linearisation L.</summary>
    public Tensor HiddenStates { get; }

    /// <summary>[G, L]: 1 for tokens, 0 for padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>One span per real node of the batch, in batch order (graph 0's nodes, then graph 1's, ...).</summary>
    public IReadOnlyList<TokenSpan> NodeSpans { get; }

    /// <summary>Checks the shapes against each other and against <paramref name="graphs"/>; throws naming the first problem.</summary>
    /// <exception cref="ArgumentException">A shape, span or count does not fit.</exception>
    public void Validate(GraphBatch graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        ArgumentNullException.ThrowIfNull(HiddenStates);
        ArgumentNullException.ThrowIfNull(AttentionMask);
        ArgumentNullException.ThrowIfNull(NodeSpans);
        if (HiddenStates.dim() != 3 || HiddenStates.shape[0] != graphs.GraphCount)
        {
            throw new ArgumentException(
                $"Token hidden states must have shape [{graphs.GraphCount}, L, d] (one linearised sequence per MAG), got [{string.Join(", ", HiddenStates.shape)}].");
        }

        if (AttentionMask.dim() != 2 || AttentionMask.shape[0] != HiddenStates.shape[0] || AttentionMask.shape[1] != HiddenStates.shape[1])
        {
            throw new ArgumentException(
                $"The token attention mask [{string.Join(", ", AttentionMask.shape)}] does not match the hidden states [{string.Join(", ", HiddenStates.shape)}] in [G, L].");
        }

        if (NodeSpans.Count != graphs.RealNodeCount)
        {
            throw new ArgumentException($"{NodeSpans.Count} node spans for {graphs.RealNodeCount} real nodes; give one span per real node in batch order.");
        }

        long length = HiddenStates.shape[1];
        for (int g = 0; g < graphs.GraphCount; g++)
        {
            for (int i = 0; i < graphs.Graphs[g].NodeCount; i++)
            {
                TokenSpan span = NodeSpans[graphs.RealNodeOffsets[g] + i];
                if (span.Graph != g || span.Length < 1 || span.Start < 0 || (long)span.Start + span.Length > length)
                {
                    throw new ArgumentException(
                        $"graph {g} node {i}: span (graph {span.Graph}, start {span.Start}, length {span.Length}) is not a non-empty range of graph {g}'s {length} token positions.");
                }
            }
        }
    }
}
