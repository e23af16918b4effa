namespace MagDi.Graphs.Gcn;

/// <summary>
/// Normalisation of a graph's adjacency for graph convolution, as a pure function of the edge list
/// (PyTorch Geometric keeps <c>gcn_norm</c> apart from the layer in the same way).
/// </summary>
public static class GcnNormalization
{
    /// <summary>
    /// Computes the normalised adjacency of a directed graph given in COO form.
    /// </summary>
    /// <param name="sources">Source node of each edge (messages flow source → target).</param>
    /// <param name="targets">Target node of each edge; same length as <paramref name="sources"/>.</param>
    /// <param name="nodeCount">Number of nodes N; every index must lie in [0, N).</param>
    /// <param name="kind">
    /// <see cref="GcnNormalizationKind.RowMean"/>: weight(s→t) = 1 / deg(t) (the paper's D^-1 M);
    /// <see cref="GcnNormalizationKind.Symmetric"/>: weight(s→t) = 1 / sqrt(deg(s)·deg(t)) (Kipf and Welling).
    /// deg is the in-degree counted on the target, self-loop included, as PyTorch Geometric's <c>gcn_norm</c> does.
    /// </param>
    /// <param name="addSelfLoops">
    /// Adds a self-loop of weight 1 to every node that has none (default true, M = A + I). Self-loops already in the
    /// input are kept as they are. Duplicate edges are kept and count twice, as in PyTorch Geometric.
    /// </param>
    /// <returns>The edges (input edges first, then added self-loops) with their normalised weights.</returns>
    /// <exception cref="ArgumentException">Lengths differ, or an index is out of range (the message names the edge).</exception>
    /// <remarks>
    /// A node with in-degree 0 (possible only without self-loops) gets no messages; with symmetric normalisation its
    /// outgoing edges get weight 0 (PyTorch Geometric's convention for 0^-1/2).
    /// </remarks>
    public static GcnNormalizedEdges Compute(
        IReadOnlyList<int> sources,
        IReadOnlyList<int> targets,
        int nodeCount,
        GcnNormalizationKind kind,
        bool addSelfLoops = true)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        ValidateEdges(sources, targets, nodeCount);
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown GCN normalisation kind.");
        }

        int inputEdges = sources.Count;
        var src = new List<int>(inputEdges + nodeCount);
        var tgt = new List<int>(inputEdges + nodeCount);
        var hasSelfLoop = new bool[nodeCount];
        for (int e = 0; e < inputEdges; e++)
        {
            src.Add(sources[e]);
            tgt.Add(targets[e]);
            if (sources[e] == targets[e])
            {
                hasSelfLoop[sources[e]] = true;
            }
        }

        if (addSelfLoops)
        {
            for (int i = 0; i < nodeCount; i++)
            {
                if (!hasSelfLoop[i])
                {
                    src.Add(i);
                    tgt.Add(i);
                }
            }
        }

        var degree = new double[nodeCount];
        foreach (int t in tgt)
        {
            degree[t] += 1.0;
        }

        var weights = new double[src.Count];
        for (int e = 0; e < weights.Length; e++)
        {
            weights[e] = kind switch
            {
                // deg(t) >= 1 because this very edge enters t.
                GcnNormalizationKind.RowMean => 1.0 / degree[tgt[e]],
                _ => InverseSqrt(degree[src[e]]) * InverseSqrt(degree[tgt[e]]),
            };
        }

        return new GcnNormalizedEdges(nodeCount, [.. src], [.. tgt], weights);
    }

    /// <summary>Checks that both lists have the same length and every index lies in [0, nodeCount).</summary>
    /// <exception cref="ArgumentException">The first problem found, naming the edge and the field.</exception>
    internal static void ValidateEdges(IReadOnlyList<int> sources, IReadOnlyList<int> targets, int nodeCount, string? context = null)
    {
        string where = context is null ? string.Empty : context + ": ";
        if (sources.Count != targets.Count)
        {
            throw new ArgumentException(
                $"{where}sources has {sources.Count} entries but targets has {targets.Count}; they must have one entry per edge.",
                nameof(targets));
        }

        for (int e = 0; e < sources.Count; e++)
        {
            if ((uint)sources[e] >= (uint)nodeCount)
            {
                throw new ArgumentException(
                    $"{where}edge {e}: source {sources[e]} is outside [0, {nodeCount}) for a graph of {nodeCount} nodes.",
                    nameof(sources));
            }

            if ((uint)targets[e] >= (uint)nodeCount)
            {
                throw new ArgumentException(
                    $"{where}edge {e}: target {targets[e]} is outside [0, {nodeCount}) for a graph of {nodeCount} nodes.",
                    nameof(targets));
            }
        }
    }

    private static double InverseSqrt(double degree) => degree > 0 ? 1.0 / Math.Sqrt(degree) : 0.0;
}
