using TorchSharp.Modules;

namespace MagDi.Losses.Tests;

/// <summary>
/// Stands in for the student LM: a frozen embedding, a trainable "LoRA" linear map and a frozen LM head. Position
/// independent, so left and right padding give identical hidden states for real tokens.
/// </summary>
internal sealed class ToyStudent : IDisposable
{
    public const int Vocab = 24;

    public ToyStudent(int hidden, ScalarType dtype = ScalarType.Float32)
    {
        Embedding = nn.Embedding(Vocab, hidden, dtype: dtype);
        Embedding.weight!.requires_grad = false;
        Lora = nn.Linear(hidden, hidden, hasBias: false, dtype: dtype);
        Head = nn.Linear(hidden, Vocab, hasBias: false, dtype: dtype);
        Head.weight!.requires_grad = false;
    }

    public Embedding Embedding { get; }

    public Linear Lora { get; }

    public Linear Head { get; }

    /// <summary>Returns (hidden [B,T,d], logits [B,T,V]).</summary>
    public (Tensor Hidden, Tensor Logits) Forward(Tensor ids)
    {
        Tensor e = Embedding.forward(ids);
        Tensor h = e + Lora.forward(e);
        return (h, Head.forward(h));
    }

    public void Dispose()
    {
        Embedding.Dispose();
        Lora.Dispose();
        Head.Dispose();
    }
}

/// <summary>A small batch of MAGs whose nodes are token sequences (prompt + answer).</summary>
internal sealed record ToyBatch(GraphSample[] Graphs, long[][] Tokens, int[] PromptLengths)
{
    public static ToyBatch Create(int seed, params int[][] labelsPerGraph)
    {
        var rng = new Random(seed);
        var graphs = new List<GraphSample>();
        var tokens = new List<long[]>();
        var prompts = new List<int>();
        foreach (int[] labels in labelsPerGraph)
        {
            GraphSample shape = TestGraphs.Layered(labels.Length);
            graphs.Add(new GraphSample(shape.NodeCount, shape.Sources, shape.Targets, labels));
            foreach (int _ in labels)
            {
                int length = rng.Next(3, 8);
                tokens.Add(Enumerable.Range(0, length).Select(_ => (long)rng.Next(1, ToyStudent.Vocab)).ToArray());
                prompts.Add(rng.Next(1, 3));
            }
        }

        return new ToyBatch([.. graphs], [.. tokens], [.. prompts]);
    }

    public int NodeCount => Tokens.Length;

    /// <summary>ids, attention mask and target mask [N, T]; targets only on correct nodes (the next-token loss trains on correct chains).</summary>
    public (Tensor Ids, Tensor Mask, Tensor Target) Encode(bool leftPadding, int extraPadding = 1)
    {
        int t = Tokens.Max(x => x.Length) + extraPadding;
        int[] labels = Graphs.SelectMany(g => g.Labels).ToArray();
        var ids = new long[NodeCount, t];
        var mask = new long[NodeCount, t];
        var target = new long[NodeCount, t];
        for (int n = 0; n < NodeCount; n++)
        {
            int start = leftPadding ? t - Tokens[n].Length : 0;
            for (int i = 0; i < Tokens[n].Length; i++)
            {
                ids[n, start + i] = Tokens[n][i];
                mask[n, start + i] = 1;
                target[n, start + i] = i >= PromptLengths[n] && labels[n] == NodeLabels.Correct ? 1 : 0;
            }
        }

        return (tensor(ids), tensor(mask), tensor(target));
    }

    /// <summary>
    /// Each MAG as one token sequence (its nodes' tokens one after another, right-padded): ids and mask [G, L] and one
    /// span per node in batch order, as the token-attention head reads them.
    /// </summary>
    public (Tensor Ids, Tensor Mask, TokenSpan[] Spans) Linearize()
    {
        var rows = new List<List<long>>();
        var spans = new List<TokenSpan>();
        int node = 0;
        for (int g = 0; g < Graphs.Length; g++)
        {
            var row = new List<long>();
            for (int i = 0; i < Graphs[g].NodeCount; i++, node++)
            {
                spans.Add(new TokenSpan(g, row.Count, Tokens[node].Length));
                row.AddRange(Tokens[node]);
            }

            rows.Add(row);
        }

        int l = rows.Max(r => r.Count) + 1;
        var ids = new long[rows.Count, l];
        var mask = new long[rows.Count, l];
        for (int g = 0; g < rows.Count; g++)
        {
            for (int t = 0; t < rows[g].Count; t++)
            {
                ids[g, t] = rows[g][t];
                mask[g, t] = 1;
            }
        }

        return (tensor(ids), tensor(mask), [.. spans]);
    }
}
