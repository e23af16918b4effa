using MagDi.Graphs.Gcn;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// One micro-batch: every selected node of a few MAGs as one right-padded token matrix, the next-token labels, and the
/// graphs. Each chain is encoded once per step and serves all three objectives.
/// </summary>
internal sealed class MagBatch : IDisposable
{
    private MagBatch(Tensor inputIds, Tensor attentionMask, Tensor labels, GraphBatch graphs, IReadOnlyList<PreparedGraph> source, long tokens)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
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

    /// <summary>The MAGs of the batch, block-diagonal, node order matching the rows.</summary>
    public GraphBatch Graphs { get; }

    public IReadOnlyList<PreparedGraph> Source { get; }

    /// <summary>Non-padding tokens in the batch.</summary>
    public long TokenCount { get; }

    public static MagBatch Collate(IReadOnlyList<PreparedGraph> graphs, int padId, bool includePromptInLoss, Device device)
    {
        var nodes = graphs.SelectMany(g => g.Nodes).ToList();
        int n = nodes.Count;
        int t = nodes.Max(x => x.Ids.Length);
        var ids = new long[n * t];
        var mask = new long[n * t];
        var labels = new long[n * t];
        Array.Fill(ids, padId);
        Array.Fill(labels, -100L);
        long tokens = 0;
        for (int row = 0; row < n; row++)
        {
            PreparedNode node = nodes[row];
            int offset = row * t;
            for (int j = 0; j < node.Ids.Length; j++)
            {
                ids[offset + j] = node.Ids[j];
                mask[offset + j] = 1;
                if (node.IsCorrect && (includePromptInLoss || j >= node.PromptLength))
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
            batch,
            graphs,
            tokens);
    }

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}
