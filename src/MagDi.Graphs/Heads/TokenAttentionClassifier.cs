using MagDi.Graphs.Gcn;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Graphs.Heads;

/// <summary>
/// The paper's token-level attention (Table 6): each MAG's whole interaction is one token sequence (every node's text in
/// round order), two multi-head self-attention layers let any token attend to any other token of that sequence, and each
/// node's label is predicted from its own span: the span's tokens are pooled, then classified.
/// </summary>
/// <remarks>
/// <code>
/// x = tokens.HiddenStates                         // [G, L, d], the student's states of the linearised MAGs
/// h1 = dropout(relu(Attn1(x, all tokens)))        // [G, L, hidden], bidirectional, padding keys masked
/// h2 = dropout(relu(Attn2(h1, all tokens)))       // [G, L, hidden]
/// v = PoolSpans(h2, tokens.NodeSpans)             // [RealNodeCount, hidden]
/// logits = Linear(ArrangeNodeFeatures(v))         // [N, C] (padding nodes of a padded batch get zero vectors)
/// </code>
/// There are no node boundaries inside the attention: only the final pooling knows which tokens belong to a node.
/// State-dict keys: <c>attn1.{q,k,v,o}_proj.*</c>, <c>attn2.{q,k,v,o}_proj.*</c>, <c>classifier.*</c>.
/// </remarks>
public sealed class TokenAttentionClassifier : Module<LinearizedGraphStates, GraphBatch, Tensor>, IGraphHead
{
    [ComponentName(Name = "attn1")]
    private readonly GraphSelfAttention _attn1;

    [ComponentName(Name = "attn2")]
    private readonly GraphSelfAttention _attn2;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    /// <summary>Creates the head.</summary>
    /// <exception cref="ArgumentException">The options are invalid (all problems listed once).</exception>
    public TokenAttentionClassifier(AttentionHeadOptions options)
        : base(nameof(TokenAttentionClassifier))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchRuntime.EnsureInitialized();
        Options = options.Clone();
        _attn1 = new GraphSelfAttention(options.InputSize, options.HiddenSize, options.Heads);
        _attn2 = new GraphSelfAttention(options.HiddenSize, options.HiddenSize, options.Heads);
        _classifier = nn.Linear(options.HiddenSize, options.Classes);
        RegisterComponents();
    }

    /// <summary>A copy of the settings the head was built with.</summary>
    public AttentionHeadOptions Options { get; }

    /// <inheritdoc />
    public GraphHeadKind Kind => GraphHeadKind.TokenAttention;

    /// <inheritdoc />
    public int Classes => Options.Classes;

    /// <summary>Classifies the nodes of a graph batch from its linearised token states.</summary>
    /// <param name="tokens">Hidden states [G, L, InputSize] of each MAG's linearisation, its mask and one span per real node.</param>
    /// <param name="batch">The graphs (their node order and padding; the edges are not used).</param>
    /// <returns>Logits [batch.NodeCount, Classes] in the batch's node layout.</returns>
    /// <exception cref="ArgumentException">The token states do not fit the batch.</exception>
    public override Tensor forward(LinearizedGraphStates tokens, GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(batch);
        tokens.Validate(batch);
        if (tokens.HiddenStates.shape[2] != Options.InputSize)
        {
            throw new ArgumentException($"Token hidden states must have shape [G, L, {Options.InputSize}], got [{string.Join(", ", tokens.HiddenStates.shape)}].", nameof(tokens));
        }

        using var scope = NewDisposeScope();
        Tensor x = tokens.HiddenStates;                                                    // [G, L, d]
        Device device = x.device;
        Tensor keys = tokens.AttentionMask.to(device).ne(Scalars.Zero).unsqueeze(1);                  // [G, 1, L]
        Tensor h = nn.functional.relu(_attn1.forward(x, keys));                           // [G, L, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        h = nn.functional.relu(_attn2.forward(h, keys));                                  // [G, L, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        long g = h.shape[0], l = h.shape[1];
        Tensor pool = SpanPoolingMatrix(tokens.NodeSpans, g, l, Options.PositionWeightedSpans, h.dtype, device); // [R, G*L]
        Tensor nodes = matmul(pool, h.reshape(g * l, -1));                                // [R, hidden]
        return _classifier.forward(batch.ArrangeNodeFeatures(nodes)).MoveToOuterDisposeScope(); // [N, C]
    }

    /// <inheritdoc />
    public Tensor Classify(GraphHeadInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        LinearizedGraphStates tokens = input.Tokens
            ?? throw new ArgumentException("Token-level attention needs Tokens (the hidden states of each MAG's linearised interaction).", nameof(input));
        return forward(tokens, input.Graphs);
    }

    /// <summary>
    /// [R, G·L]: row r holds node r's pooling weights over the flattened token positions, normalised to sum 1
    /// (1..n over its n tokens when position-weighted, else 1 each).
    /// </summary>
    private static Tensor SpanPoolingMatrix(IReadOnlyList<TokenSpan> spans, long graphs, long length, bool positionWeighted, ScalarType dtype, Device device)
    {
        var weights = new double[spans.Count * graphs * length];
        for (int r = 0; r < spans.Count; r++)
        {
            TokenSpan span = spans[r];
            double total = positionWeighted ? span.Length * (span.Length + 1) / 2.0 : span.Length;
            long row = r * graphs * length;
            for (int t = 0; t < span.Length; t++)
            {
                weights[row + (span.Graph * length) + span.Start + t] = (positionWeighted ? t + 1 : 1) / total;
            }
        }

        return tensor(weights, [spans.Count, graphs * length], device: device).to(dtype);
    }
}
