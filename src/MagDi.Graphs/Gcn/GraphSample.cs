namespace MagDi.Graphs.Gcn;

/// <summary>
/// One graph as the GCN sees it: N nodes indexed 0..N-1 (in the MAG's node order), directed edges in COO form
/// (messages flow source → target) and one label per node.
/// </summary>
public sealed class GraphSample
{
    /// <summary>Creates a <see cref="GraphSample"/>.</summary>
    /// <param name="nodeCount">Number of nodes N (at least 1).</param>
    /// <param name="sources">Source node of each edge.</param>
    /// <param name="targets">Target node of each edge.</param>
    /// <param name="labels">One label per node: <see cref="NodeLabels.Correct"/>, <see cref="NodeLabels.Incorrect"/>, any other class index &gt;= 0, or <see cref="NodeLabels.Ignore"/> to leave the node out of the node loss.</param>
    public GraphSample(int nodeCount, IReadOnlyList<int> sources, IReadOnlyList<int> targets, IReadOnlyList<int> labels)
    {
        NodeCount = nodeCount;
        Sources = sources;
        Targets = targets;
        Labels = labels;
    }

    /// <summary>Number of nodes N (at least 1).</summary>
    public int NodeCount { get; }

    /// <summary>Source node of each edge.</summary>
    public IReadOnlyList<int> Sources { get; }

    /// <summary>Target node of each edge.</summary>
    public IReadOnlyList<int> Targets { get; }

    /// <summary>One label per node: <see cref="NodeLabels.Correct"/>, <see cref="NodeLabels.Incorrect"/>, any other class index &gt;= 0, or <see cref="NodeLabels.Ignore"/> to leave the node out of the node loss.</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>Checks the sample; <paramref name="context"/> names it in the error (for example "graph 3").</summary>
    /// <exception cref="ArgumentException">The first problem found: node count, edge index or label.</exception>
    public void Validate(string context = "graph")
    {
        if (NodeCount < 1)
        {
            throw new ArgumentException($"{context}: NodeCount is {NodeCount}; a graph needs at least one node.");
        }

        ArgumentNullException.ThrowIfNull(Sources);
        ArgumentNullException.ThrowIfNull(Targets);
        ArgumentNullException.ThrowIfNull(Labels);
        GcnNormalization.ValidateEdges(Sources, Targets, NodeCount, context);
        if (Labels.Count != NodeCount)
        {
            throw new ArgumentException($"{context}: Labels has {Labels.Count} entries for {NodeCount} nodes; give one label per node.");
        }

        for (int i = 0; i < Labels.Count; i++)
        {
            if (Labels[i] < 0 && Labels[i] != NodeLabels.Ignore)
            {
                throw new ArgumentException($"{context}: node {i} has label {Labels[i]}; labels are class indices >= 0 or {NodeLabels.Ignore} (ignored).");
            }
        }
    }
}
