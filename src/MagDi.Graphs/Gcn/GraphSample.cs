namespace MagDi.Graphs.Gcn;

/// <summary>
/// One graph as the GCN sees it: N nodes indexed 0..N-1 (in the MAG's node order), directed edges in COO form
/// (messages flow source → target) and one label per node.
/// </summary>
/// <param name="NodeCount">Number of nodes N (at least 1).</param>
/// <param name="Sources">Source node of each edge.</param>
/// <param name="Targets">Target node of each edge.</param>
/// <param name="Labels">
/// One label per node: <see cref="NodeLabels.Correct"/>, <see cref="NodeLabels.Incorrect"/>, any other class index
/// &gt;= 0, or <see cref="NodeLabels.Ignore"/> to leave the node out of the node loss.
/// </param>
public sealed record GraphSample(int NodeCount, IReadOnlyList<int> Sources, IReadOnlyList<int> Targets, IReadOnlyList<int> Labels)
{
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
