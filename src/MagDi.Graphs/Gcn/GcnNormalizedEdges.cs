namespace MagDi.Graphs.Gcn;

/// <summary>
/// A normalised adjacency in COO form: edge e carries weight <see cref="Weights"/>[e] from node
/// <see cref="Sources"/>[e] to node <see cref="Targets"/>[e]; the propagation is
/// h'[t] = Σ_e: target(e)=t  Weights[e] · h[source(e)].
/// </summary>
/// <remarks>Produced by <see cref="GcnNormalization.Compute"/>. Pure data, no tensors.</remarks>
public sealed class GcnNormalizedEdges
{
    internal GcnNormalizedEdges(int nodeCount, int[] sources, int[] targets, double[] weights)
    {
        NodeCount = nodeCount;
        Sources = sources;
        Targets = targets;
        Weights = weights;
    }

    /// <summary>Number of nodes N.</summary>
    public int NodeCount { get; }

    /// <summary>Source node of each edge (the input edges first, then any added self-loops).</summary>
    public IReadOnlyList<int> Sources { get; }

    /// <summary>Target node of each edge, the node that receives the message.</summary>
    public IReadOnlyList<int> Targets { get; }

    /// <summary>Normalised weight of each edge.</summary>
    public IReadOnlyList<double> Weights { get; }

    /// <summary>Number of edges, self-loops included.</summary>
    public int EdgeCount => Sources.Count;

    /// <summary>
    /// The dense normalised adjacency Â as an N×N array indexed [target, source] (duplicate edges add up),
    /// so that h' = Â h.
    /// </summary>
    public double[,] ToDense()
    {
        var dense = new double[NodeCount, NodeCount];
        for (int e = 0; e < EdgeCount; e++)
        {
            dense[Targets[e], Sources[e]] += Weights[e];
        }

        return dense;
    }
}
