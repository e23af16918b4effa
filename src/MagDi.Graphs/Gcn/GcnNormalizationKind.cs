namespace MagDi.Graphs.Gcn;

/// <summary>How a graph convolution normalises the adjacency matrix with self-connections, M = A + I.</summary>
/// <remarks>
/// Messages flow along the edge direction, source to target: a node aggregates its in-neighbours and itself.
/// In matrix form the propagation is h' = Â h with Â[target, source] = weight of the edge source → target.
/// </remarks>
public enum GcnNormalizationKind
{
    /// <summary>
    /// The MAGDi paper's D^-1 M: every node takes the plain mean of itself and its in-neighbours
    /// (edge weight 1 / in-degree(target), the degree counting the self-loop).
    /// </summary>
    RowMean = 0,

    /// <summary>
    /// Kipf and Welling's D^-1/2 M D^-1/2, PyTorch Geometric's <c>gcn_norm</c> default:
    /// edge weight 1 / sqrt(deg(source) · deg(target)), with deg the in-degree (self-loop included).
    /// </summary>
    Symmetric = 1,
}
