using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Graphs.Gcn;

/// <summary>
/// Many graphs with different node counts as one graph for a single GCN call.
/// </summary>
/// <remarks>
/// <para>
/// <b>Block-diagonal</b> (<see cref="BlockDiagonal"/>, the default and PyTorch Geometric's way): the nodes of all graphs are
/// concatenated, edge indices are offset by each graph's first node, and <see cref="Batch"/> maps every node to its graph.
/// No edge crosses graphs, so one propagation over the batch equals one per graph.
/// </para>
/// <para>
/// <b>Padded</b> (<see cref="Padded"/>, for compatibility with the released recipe): every graph is padded to the same
/// number of nodes (12 in the release). Padded nodes get zero features, only a self-loop, and the label
/// <see cref="NodeLabels.Missing"/> (the release's third class) or <see cref="NodeLabels.Ignore"/>.
/// </para>
/// <para>
/// In both layouts the <i>real</i> nodes keep one order: graph 0's nodes 0..N0-1, then graph 1's, and so on. Features of
/// real nodes come in that order (one row per real node, see <see cref="ArrangeNodeFeatures"/>), and
/// <see cref="RealNodeOffsets"/> gives the first real-node row of each graph.
/// </para>
/// </remarks>
public sealed class GraphBatch
{
    private readonly int[] _sources;
    private readonly int[] _targets;
    private readonly int[] _batch;
    private readonly int[] _labels;
    private readonly int[] _realNodeRow;
    private readonly int[] _nodeOffsets;
    private readonly int[] _realNodeOffsets;

    private GraphBatch(
        IReadOnlyList<GraphSample> graphs,
        bool isPadded,
        int[] sources,
        int[] targets,
        int[] batch,
        int[] labels,
        int[] realNodeRow,
        int[] nodeOffsets,
        int[] realNodeOffsets,
        int realNodeCount)
    {
        Graphs = graphs;
        IsPadded = isPadded;
        _sources = sources;
        _targets = targets;
        _batch = batch;
        _labels = labels;
        _realNodeRow = realNodeRow;
        _nodeOffsets = nodeOffsets;
        _realNodeOffsets = realNodeOffsets;
        RealNodeCount = realNodeCount;
    }

    /// <summary>The graphs of the batch, in order.</summary>
    public IReadOnlyList<GraphSample> Graphs { get; }

    /// <summary>Whether the graphs were padded to a fixed node count.</summary>
    public bool IsPadded { get; }

    /// <summary>Number of graphs.</summary>
    public int GraphCount => Graphs.Count;

    /// <summary>Number of nodes of the batch graph, padding included.</summary>
    public int NodeCount => _batch.Length;

    /// <summary>Number of real (non-padding) nodes: the rows of the feature matrix the caller provides.</summary>
    public int RealNodeCount { get; }

    /// <summary>Edge sources in batch node indices.</summary>
    public IReadOnlyList<int> Sources => _sources;

    /// <summary>Edge targets in batch node indices.</summary>
    public IReadOnlyList<int> Targets => _targets;

    /// <summary>For every batch node, the index of its graph (PyTorch Geometric's <c>batch</c> vector).</summary>
    public IReadOnlyList<int> Batch => _batch;

    /// <summary>For every batch node, its label (padding nodes: the padding label, or <see cref="NodeLabels.Ignore"/>).</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <summary>For every batch node, its row among the real nodes, or -1 for a padding node.</summary>
    public IReadOnlyList<int> RealNodeRows => _realNodeRow;

    /// <summary>For every graph, the batch index of its first node.</summary>
    public IReadOnlyList<int> NodeOffsets => _nodeOffsets;

    /// <summary>For every graph, the row of its first node among the real nodes.</summary>
    public IReadOnlyList<int> RealNodeOffsets => _realNodeOffsets;

    /// <summary>Concatenates the graphs block-diagonally (no padding).</summary>
    /// <param name="graphs">At least one graph; each is validated.</param>
    /// <exception cref="ArgumentException">A graph is invalid (the message names it by index).</exception>
    public static GraphBatch BlockDiagonal(IReadOnlyList<GraphSample> graphs) => Build(graphs, nodesPerGraph: null, paddingLabel: NodeLabels.Ignore);

    /// <summary>Pads every graph to <paramref name="nodesPerGraph"/> nodes (the released recipe's layout).</summary>
    /// <param name="graphs">At least one graph; each is validated and must have at most <paramref name="nodesPerGraph"/> nodes.</param>
    /// <param name="nodesPerGraph">Node count of every padded graph (default 12, the release's).</param>
    /// <param name="paddingLabel">
    /// Label of padded nodes: <see cref="NodeLabels.Missing"/> (default, the release's third class, so padded nodes are
    /// classified too) or <see cref="NodeLabels.Ignore"/> to leave them out of the node loss.
    /// </param>
    /// <exception cref="ArgumentException">A graph is invalid or larger than <paramref name="nodesPerGraph"/>.</exception>
    public static GraphBatch Padded(IReadOnlyList<GraphSample> graphs, int nodesPerGraph = 12, int paddingLabel = NodeLabels.Missing)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nodesPerGraph);
        if (paddingLabel < 0 && paddingLabel != NodeLabels.Ignore)
        {
            throw new ArgumentOutOfRangeException(nameof(paddingLabel), paddingLabel, $"The padding label must be a class index >= 0 or {NodeLabels.Ignore}.");
        }

        return Build(graphs, nodesPerGraph, paddingLabel);
    }

    /// <summary>Normalises the batch adjacency (see <see cref="GcnNormalization.Compute"/>).</summary>
    public GcnNormalizedEdges Normalize(GcnNormalizationKind kind, bool addSelfLoops = true) =>
        GcnNormalization.Compute(_sources, _targets, NodeCount, kind, addSelfLoops);

    /// <summary>Normalises the batch adjacency and moves it onto a device as tensors.</summary>
    internal GcnAdjacency CreateAdjacency(GcnNormalizationKind kind, ScalarType dtype = ScalarType.Float32, Device? device = null, bool addSelfLoops = true) =>
        GcnAdjacency.FromEdges(Normalize(kind, addSelfLoops), dtype, device);

    /// <summary>
    /// Places the features of the real nodes into the batch layout: the identity for a block-diagonal batch, zero rows for
    /// padding nodes in a padded batch. Gradients flow back into <paramref name="realNodeFeatures"/>.
    /// </summary>
    /// <param name="realNodeFeatures">[RealNodeCount, d], one row per real node in batch order.</param>
    /// <returns>[NodeCount, d].</returns>
    public Tensor ArrangeNodeFeatures(Tensor realNodeFeatures)
    {
        ArgumentNullException.ThrowIfNull(realNodeFeatures);
        if (realNodeFeatures.dim() != 2 || realNodeFeatures.shape[0] != RealNodeCount)
        {
            throw new ArgumentException(
                $"Node features must have shape [{RealNodeCount}, d] (one row per real node of the batch), got [{string.Join(", ", realNodeFeatures.shape)}].",
                nameof(realNodeFeatures));
        }

        if (!IsPadded)
        {
            return realNodeFeatures.alias();
        }

        using var scope = NewDisposeScope();
        var rows = new long[RealNodeCount];
        for (int node = 0; node < _realNodeRow.Length; node++)
        {
            if (_realNodeRow[node] >= 0)
            {
                rows[_realNodeRow[node]] = node;
            }
        }

        Tensor index = tensor(rows, dtype: ScalarType.Int64, device: realNodeFeatures.device);
        Tensor output = zeros([NodeCount, realNodeFeatures.shape[1]], dtype: realNodeFeatures.dtype, device: realNodeFeatures.device)
            .index_add(0, index, realNodeFeatures, Scalars.One);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The labels of all batch nodes as an int64 tensor [NodeCount].</summary>
    public Tensor LabelsTensor(Device? device = null)
    {
        TorchRuntime.EnsureInitialized();
        return tensor(_labels.Select(l => (long)l).ToArray(), dtype: ScalarType.Int64, device: device ?? CPU);
    }

    private static GraphBatch Build(IReadOnlyList<GraphSample> graphs, int? nodesPerGraph, int paddingLabel)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        if (graphs.Count == 0)
        {
            throw new ArgumentException("A graph batch needs at least one graph.", nameof(graphs));
        }

        int nodeCount = 0;
        int realNodeCount = 0;
        int edgeCount = 0;
        for (int g = 0; g < graphs.Count; g++)
        {
            GraphSample graph = graphs[g] ?? throw new ArgumentException($"graph {g} is null.", nameof(graphs));
            graph.Validate($"graph {g}");
            if (nodesPerGraph is int cap && graph.NodeCount > cap)
            {
                throw new ArgumentException($"graph {g}: {graph.NodeCount} nodes do not fit a padded batch of {cap} nodes per graph.", nameof(graphs));
            }

            nodeCount += nodesPerGraph ?? graph.NodeCount;
            realNodeCount += graph.NodeCount;
            edgeCount += graph.Sources.Count;
        }

        var sources = new int[edgeCount];
        var targets = new int[edgeCount];
        var batch = new int[nodeCount];
        var labels = new int[nodeCount];
        var realRow = new int[nodeCount];
        var nodeOffsets = new int[graphs.Count];
        var realOffsets = new int[graphs.Count];
        int node = 0;
        int real = 0;
        int edge = 0;
        for (int g = 0; g < graphs.Count; g++)
        {
            GraphSample graph = graphs[g];
            nodeOffsets[g] = node;
            realOffsets[g] = real;
            for (int e = 0; e < graph.Sources.Count; e++, edge++)
            {
                sources[edge] = node + graph.Sources[e];
                targets[edge] = node + graph.Targets[e];
            }

            int slots = nodesPerGraph ?? graph.NodeCount;
            for (int i = 0; i < slots; i++, node++)
            {
                batch[node] = g;
                if (i < graph.NodeCount)
                {
                    labels[node] = graph.Labels[i];
                    realRow[node] = real++;
                }
                else
                {
                    labels[node] = paddingLabel;
                    realRow[node] = -1;
                }
            }
        }

        return new GraphBatch([.. graphs], nodesPerGraph is not null, sources, targets, batch, labels, realRow, nodeOffsets, realOffsets, realNodeCount);
    }
}
