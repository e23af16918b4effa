using MagDi.Graphs.Gcn;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Graphs.Heads;

/// <summary>
/// The paper's node-level attention (Table 6): the GCN head with each graph convolution replaced by multi-head
/// self-attention over the MAG's node vectors, with no edges. Every node attends to every node of its own MAG; nodes of
/// other MAGs in the batch and padding nodes are masked out as keys.
/// </summary>
/// <remarks>
/// <code>
/// x = ArrangeNodeFeatures(features)          // [N, d], N = batch.NodeCount (zero rows for padding nodes)
/// h1 = dropout(relu(Attn1(x, same MAG)))     // [N, hidden]
/// h2 = dropout(relu(Attn2(h1, same MAG)))    // [N, hidden]
/// logits = Linear(h2)                        // [N, C]
/// </code>
/// State-dict keys: <c>attn1.{q,k,v,o}_proj.*</c>, <c>attn2.{q,k,v,o}_proj.*</c>, <c>classifier.*</c>.
/// </remarks>
public sealed class NodeAttentionClassifier : Module<Tensor, GraphBatch, Tensor>, IGraphHead
{
    [ComponentName(Name = "attn1")]
    private readonly GraphSelfAttention _attn1;

    [ComponentName(Name = "attn2")]
    private readonly GraphSelfAttention _attn2;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    /// <summary>Creates the head.</summary>
    /// <exception cref="ArgumentException">The options are invalid (all problems listed once).</exception>
    public NodeAttentionClassifier(AttentionHeadOptions options)
        : base(nameof(NodeAttentionClassifier))
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
    public GraphHeadKind Kind => GraphHeadKind.NodeAttention;

    /// <inheritdoc />
    public int Classes => Options.Classes;

    /// <summary>Classifies the nodes of a graph batch.</summary>
    /// <param name="realNodeFeatures">[batch.RealNodeCount, InputSize], one row per real node in batch order.</param>
    /// <param name="batch">The graphs; only which MAG each node belongs to and which nodes are padding is used, not the edges.</param>
    /// <returns>Logits [batch.NodeCount, Classes] in the batch's node layout.</returns>
    public override Tensor forward(Tensor realNodeFeatures, GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(realNodeFeatures);
        ArgumentNullException.ThrowIfNull(batch);
        if (realNodeFeatures.dim() != 2 || realNodeFeatures.shape[1] != Options.InputSize)
        {
            throw new ArgumentException($"Node features must have shape [N, {Options.InputSize}], got [{string.Join(", ", realNodeFeatures.shape)}].", nameof(realNodeFeatures));
        }

        using var scope = NewDisposeScope();
        Tensor x = batch.ArrangeNodeFeatures(realNodeFeatures).unsqueeze(0);            // [1, N, d]
        Tensor allowed = SameGraphMask(batch, realNodeFeatures.device);                 // [1, N, N]
        Tensor h = nn.functional.relu(_attn1.forward(x, allowed));                     // [1, N, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        h = nn.functional.relu(_attn2.forward(h, allowed));                            // [1, N, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        return _classifier.forward(h.squeeze(0)).MoveToOuterDisposeScope();            // [N, C]
    }

    /// <inheritdoc />
    public Tensor Classify(GraphHeadInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor features = input.NodeFeatures ?? throw new ArgumentException("Node-level attention needs NodeFeatures (one pooled vector per real node).", nameof(input));
        return forward(features, input.Graphs);
    }

    /// <summary>[1, N, N]: node i may attend to node j when both belong to the same MAG and j is a real (not padding) node.</summary>
    internal static Tensor SameGraphMask(GraphBatch batch, Device device)
    {
        int n = batch.NodeCount;
        var allowed = new bool[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                allowed[(i * n) + j] = batch.Batch[i] == batch.Batch[j] && batch.RealNodeRows[j] >= 0;
            }
        }

        return tensor(allowed, [1, n, n], device: device);
    }
}
