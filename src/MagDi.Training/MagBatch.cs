using MagDi.Graphs.Gcn;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// One micro-batch: every selected node of a few MAGs as one right-padded token matrix, the next-token labels, and the
/// graphs. Each chain is encoded once per step and serves all three objectives.
/// </summary>
internal sealed class MagBatch : IDisposable
{
    private MagBatch(Tensor inputIds, Tensor attentionMask, Tensor labels, Tensor? rationaleLabels, GraphBatch graphs, IReadOnlyList<PreparedGraph> source, long tokens)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
        RationaleLabels = rationaleLabels;
        Graphs = graphs;
        Source = source;
        TokenCount = tokens;
    }

    /// <summary>[N, T] token ids, N = all selected nodes of the batch's MAGs.</summary>
    public Tensor InputIds { get; }

    /// <summary>[N, T] 1 for tokens, 0 for padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>[N, T] next-token labels: the token id on correct chains' targets, -100 elsewhere (prompt, padding, incorrect chains).</summary>
    public Tensor Labels { get; }

    /// <summary>
    /// DSS-MT only: [N, T] targets of the rationale rows (-100 elsewhere); <see cref="Labels"/> then holds the label rows'
    /// targets only. Null for MAGDi batches.
    /// </summary>
    public Tensor? RationaleLabels { get; }

    /// <summary>
    /// Release preset only: [B, T'] token ids and attention mask of the negative chains, left-padded apart from the positives
    /// (which are <see cref="InputIds"/>), as the release encodes them. Null otherwise.
    /// </summary>
    public (Tensor InputIds, Tensor AttentionMask)? Negatives { get; private init; }

    /// <summary>The MAGs of the batch, block-diagonal, node order matching the rows.</summary>
    public GraphBatch Graphs { get; }

    public IReadOnlyList<PreparedGraph> Source { get; }

    /// <summary>Non-padding tokens in the batch.</summary>
    public long TokenCount { get; }

    public static MagBatch Collate(IReadOnlyList<PreparedGraph> graphs, int padId, bool includePromptInLoss, Device device)
    {
        if (graphs.Count > 0 && graphs[0].Release is not null)
        {
            return CollateRelease(graphs, padId, device);
        }

        var nodes = graphs.SelectMany(g => g.Nodes).ToList();
        int n = nodes.Count;
        int t = nodes.Max(x => x.Ids.Length);
        var ids = new long[n * t];
        var mask = new long[n * t];
        var labels = new long[n * t];
        bool stepByStep = nodes.Any(x => x.Kind != ExampleKind.Chain);
        long[]? rationale = stepByStep ? new long[n * t] : null;
        Array.Fill(ids, padId);
        Array.Fill(labels, -100L);
        if (rationale is not null)
        {
            Array.Fill(rationale, -100L);
        }

        long tokens = 0;
        for (int row = 0; row < n; row++)
        {
            PreparedNode node = nodes[row];
            int offset = row * t;
            for (int j = 0; j < node.Ids.Length; j++)
            {
                ids[offset + j] = node.Ids[j];
                mask[offset + j] = 1;
                if (node.Kind == ExampleKind.Rationale)
                {
                    if (j >= node.PromptLength)
                    {
                        rationale![offset + j] = node.Ids[j];
                    }
                }
                else if (node.HasTargets && (includePromptInLoss || j >= node.PromptLength))
                {
                    labels[offset + j] = node.Ids[j];
                }
            }

            tokens += node.Ids.Length;
        }

        GraphBatch batch = GraphBatch.BlockDiagonal(graphs.Select(g => g.ToSample()).ToList());
        return new MagBatch(
            tensor(ids, [n, t], ScalarType.Int64, device),
            tensor(mask, [n, t], ScalarType.Int64, device),
            tensor(labels, [n, t], ScalarType.Int64, device),
            rationale is null ? null : tensor(rationale, [n, t], ScalarType.Int64, device),
            batch,
            graphs,
            tokens);
    }

    /// <summary>
    /// The release's micro-batch of pair rows: positives and negatives as two left-padded matrices; next-token labels on every
    /// token of the positives (prompt included) except each row's first, which nothing predicts; one 12-node graph per row.
    /// </summary>
    private static MagBatch CollateRelease(IReadOnlyList<PreparedGraph> rows, int padId, Device device)
    {
        var (posIds, posMask) = LeftPad(rows.Select(r => r.Nodes[0].Ids).ToList(), padId);
        var (negIds, negMask) = LeftPad(rows.Select(r => r.Nodes[1].Ids).ToList(), padId);
        int b = rows.Count;
        long tp = posIds.Length / b, tn = negIds.Length / b;
        var labels = new long[posIds.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            bool first = i % tp == 0 || posMask[i - 1] == 0;
            labels[i] = posMask[i] == 1 && !first ? posIds[i] : -100L;
        }

        long tokens = rows.Sum(r => (long)r.Nodes[0].Ids.Length + r.Nodes[1].Ids.Length);
        GraphBatch graphs = GraphBatch.BlockDiagonal(rows.Select(r => r.Release!.Layout.Graph).ToList());
        return new MagBatch(
            tensor(posIds, [b, tp], ScalarType.Int64, device),
            tensor(posMask, [b, tp], ScalarType.Int64, device),
            tensor(labels, [b, tp], ScalarType.Int64, device),
            null,
            graphs,
            rows,
            tokens)
        {
            Negatives = (tensor(negIds, [b, tn], ScalarType.Int64, device), tensor(negMask, [b, tn], ScalarType.Int64, device)),
        };
    }

    /// <summary>Rows left-padded to the longest, flattened [B·T] (ids, mask).</summary>
    internal static (long[] Ids, long[] Mask) LeftPad(IReadOnlyList<int[]> rows, int padId)
    {
        int t = rows.Max(r => r.Length);
        var ids = new long[rows.Count * t];
        var mask = new long[rows.Count * t];
        Array.Fill(ids, padId);
        for (int r = 0; r < rows.Count; r++)
        {
            int start = (r * t) + t - rows[r].Length;
            for (int j = 0; j < rows[r].Length; j++)
            {
                ids[start + j] = rows[r][j];
                mask[start + j] = 1;
            }
        }

        return (ids, mask);
    }

    public void Dispose()
    {
        if (Negatives is var (negIds, negMask))
        {
            negIds.Dispose();
            negMask.Dispose();
        }

        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
        RationaleLabels?.Dispose();
    }
}
