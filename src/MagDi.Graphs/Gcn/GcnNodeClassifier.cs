using MagDi.Graphs.Heads;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Graphs.Gcn;

/// <summary>
/// The MAGDi graph head (paper section 3.4, objective 3): two GCN layers with ReLU and dropout, then a linear
/// classifier to C node labels. Logits, not probabilities: the softmax lives in the cross-entropy.
/// </summary>
/// <remarks>
/// <code>
/// h1 = dropout(relu(GCN1(x)))      // [N, hidden]
/// h2 = dropout(relu(GCN2(h1)))     // [N, hidden]
/// logits = Linear(h2)              // [N, C]
/// </code>
/// State-dict keys: <c>conv1.*</c>, <c>conv2.*</c>, <c>classifier.weight</c>, <c>classifier.bias</c>.
/// </remarks>
public sealed class GcnNodeClassifier : Module<Tensor, GcnAdjacency, Tensor>, IGraphHead
{
    [ComponentName(Name = "conv1")]
    private readonly GcnConv _conv1;

    [ComponentName(Name = "conv2")]
    private readonly GcnConv _conv2;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    /// <summary>Creates the head.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public GcnNodeClassifier(GcnNodeClassifierOptions options)
        : base(nameof(GcnNodeClassifier))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchRuntime.EnsureInitialized();
        Options = new GcnNodeClassifierOptions
        {
            InputSize = options.InputSize,
            HiddenSize = options.HiddenSize,
            Dropout = options.Dropout,
            Classes = options.Classes,
            Normalization = options.Normalization,
            AddSelfLoops = options.AddSelfLoops,
        };
        _conv1 = new GcnConv(options.InputSize, options.HiddenSize);
        _conv2 = new GcnConv(options.HiddenSize, options.HiddenSize);
        _classifier = nn.Linear(options.HiddenSize, options.Classes);
        RegisterComponents();
    }

    /// <summary>A copy of the settings the head was built with.</summary>
    public GcnNodeClassifierOptions Options { get; }

    /// <inheritdoc />
    public GraphHeadKind Kind => GraphHeadKind.Gcn;

    /// <inheritdoc />
    public int Classes => Options.Classes;

    /// <summary>Classifies nodes given an adjacency built by the caller.</summary>
    /// <param name="x">Node features [N, InputSize].</param>
    /// <param name="adjacency">Normalised adjacency of the N nodes.</param>
    /// <returns>Logits [N, Classes].</returns>
    public override Tensor forward(Tensor x, GcnAdjacency adjacency)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(adjacency);
        if (x.dim() != 2 || x.shape[1] != Options.InputSize)
        {
            throw new ArgumentException($"Node features must have shape [N, {Options.InputSize}], got [{string.Join(", ", x.shape)}].", nameof(x));
        }

        using var scope = NewDisposeScope();
        Tensor h = nn.functional.relu(_conv1.forward(x, adjacency));                  // [N, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        h = nn.functional.relu(_conv2.forward(h, adjacency));                         // [N, hidden]
        h = nn.functional.dropout(h, Options.Dropout, training);
        return _classifier.forward(h).MoveToOuterDisposeScope();                      // [N, C]
    }

    /// <summary>
    /// Classifies the nodes of a graph batch, building its adjacency with <see cref="GcnNodeClassifierOptions.Normalization"/>.
    /// </summary>
    /// <param name="realNodeFeatures">[batch.RealNodeCount, InputSize], one row per real node in batch order.</param>
    /// <param name="batch">The graphs.</param>
    /// <returns>Logits [batch.NodeCount, Classes] in the batch's node layout (padding nodes included when padded).</returns>
    public Tensor Classify(Tensor realNodeFeatures, GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(realNodeFeatures);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        using GcnAdjacency adjacency = batch.CreateAdjacency(Options.Normalization, realNodeFeatures.dtype, realNodeFeatures.device, Options.AddSelfLoops);
        Tensor x = batch.ArrangeNodeFeatures(realNodeFeatures);
        return forward(x, adjacency).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public Tensor Classify(GraphHeadInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor features = input.NodeFeatures ?? throw new ArgumentException("The GCN head needs NodeFeatures (one pooled vector per real node).", nameof(input));
        return Classify(features, input.Graphs);
    }
}
