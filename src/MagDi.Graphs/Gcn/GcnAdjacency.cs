using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Graphs.Gcn;

/// <summary>
/// A normalised adjacency held as tensors, ready for message passing: sparse COO (edge lists and weights),
/// so a batch of many small graphs costs O(E·F), not O(N²·F).
/// </summary>
/// <remarks>Owns its tensors; dispose it when the batch is done (or let the enclosing dispose scope do it).</remarks>
public sealed class GcnAdjacency : IDisposable
{
    private GcnAdjacency(int nodeCount, Tensor sources, Tensor targets, Tensor weights)
    {
        NodeCount = nodeCount;
        Sources = sources;
        Targets = targets;
        Weights = weights;
    }

    /// <summary>Number of nodes N.</summary>
    public int NodeCount { get; }

    /// <summary>Source node of each edge, int64 [E].</summary>
    public Tensor Sources { get; }

    /// <summary>Target node of each edge, int64 [E].</summary>
    public Tensor Targets { get; }

    /// <summary>Normalised edge weights [E].</summary>
    public Tensor Weights { get; }

    /// <summary>Moves a normalised edge list onto a device as tensors.</summary>
    /// <param name="edges">The output of <see cref="GcnNormalization.Compute"/>.</param>
    /// <param name="dtype">Dtype of the weights (default float32); <see cref="Propagate"/> casts them to the features' dtype.</param>
    /// <param name="device">Device (default CPU).</param>
    public static GcnAdjacency FromEdges(GcnNormalizedEdges edges, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(edges);
        TorchRuntime.EnsureInitialized();
        device ??= CPU;
        var src = new long[edges.EdgeCount];
        var tgt = new long[edges.EdgeCount];
        var w = new double[edges.EdgeCount];
        for (int e = 0; e < src.Length; e++)
        {
            src[e] = edges.Sources[e];
            tgt[e] = edges.Targets[e];
            w[e] = edges.Weights[e];
        }

        return new GcnAdjacency(
            edges.NodeCount,
            tensor(src, dtype: int64, device: device).DetachFromDisposeScope(),
            tensor(tgt, dtype: int64, device: device).DetachFromDisposeScope(),
            tensor(w, dtype: float64, device: device).to(dtype).DetachFromDisposeScope());
    }

    /// <summary>Message passing h'[t] = Σ_{e: s→t} w_e · h[s].</summary>
    /// <param name="x">Node features [N, F].</param>
    /// <returns>Aggregated features [N, F], same dtype as <paramref name="x"/>.</returns>
    public Tensor Propagate(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 2 || x.shape[0] != NodeCount)
        {
            throw new ArgumentException(
                $"Node features must have shape [{NodeCount}, F] for this graph, got [{string.Join(", ", x.shape)}].", nameof(x));
        }

        using var scope = NewDisposeScope();
        Tensor weights = Weights.to(x.dtype).unsqueeze(1);           // [E, 1]
        Tensor messages = x.index_select(0, Sources) * weights;     // [E, F]
        Tensor output = zeros(x.shape, dtype: x.dtype, device: x.device)
            .index_add(0, Targets, messages, Scalars.One);           // [N, F]
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The dense normalised adjacency [N, N] indexed [target, source] (for inspection and small graphs).</summary>
    internal Tensor ToDenseTensor()
    {
        using var scope = NewDisposeScope();
        Tensor dense = zeros([NodeCount, NodeCount], dtype: Weights.dtype, device: Weights.device);
        Tensor flat = Targets.Times((long)NodeCount).Plus(Sources);
        Tensor result = dense.view(-1).index_add(0, flat, Weights, Scalars.One).view(NodeCount, NodeCount);
        return result.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Sources.Dispose();
        Targets.Dispose();
        Weights.Dispose();
    }
}
