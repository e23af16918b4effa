using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Losses;

/// <summary>
/// The MAGDi objective, paper equation 4: L = α·L+ + β·L− + γ·L_I, with its trainable heads (the contrastive scorer and
/// the graph head: the GCN node classifier by default, or one of the attention heads of paper Table 6).
/// </summary>
/// <remarks>
/// <para>
/// One forward per unique node: the caller runs the student once on every node (chain) of the batch, pools each node's
/// last hidden states once (<see cref="SequencePooling"/>), and hands the logits, labels and pooled rows here. The three
/// terms then share those tensors: the next-token loss reads the logits, the scorer scores every node once and pairs are
/// formed by index, and the GCN takes the same rows as node features. The released code instead re-encodes a positive
/// chain for every pair it is in (and a negative for each of its pairs), so a MAG with P correct and N incorrect nodes
/// costs it 2·max(P, N) chain forwards for the ranking loss alone plus the next-token forwards, against P + N here.
/// </para>
/// <para>
/// A term whose weight is 0 is not computed (its head is not even created); its loss reads 0. A term whose weight is
/// positive needs its inputs: logits and labels for α, representations and graphs for β and γ.
/// </para>
/// <para>
/// State-dict keys: <c>scorer.*</c> (<see cref="ContrastiveScorer"/>) and, named per graph head, <c>gcn.*</c>
/// (<see cref="GcnNodeClassifier"/>), <c>node_attention.*</c> (<see cref="NodeAttentionClassifier"/>) or
/// <c>token_attention.*</c> (<see cref="TokenAttentionClassifier"/>). A checkpoint of one head therefore never loads
/// silently into another.
/// </para>
/// </remarks>
public sealed class MagDiObjective : Module<MagDiObjectiveInput, MagDiLoss>
{
    [ComponentName(Name = "scorer")]
    private readonly ContrastiveScorer? _scorer;

    [ComponentName(Name = "gcn")]
    private readonly GcnNodeClassifier? _gcn;

    [ComponentName(Name = "node_attention")]
    private readonly NodeAttentionClassifier? _nodeAttention;

    [ComponentName(Name = "token_attention")]
    private readonly TokenAttentionClassifier? _tokenAttention;

    private readonly Random _random;

    /// <summary>Creates the objective and its heads.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid (all problems listed once).</exception>
    public MagDiObjective(MagDiObjectiveOptions options)
        : base(nameof(MagDiObjective))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchRuntime.EnsureInitialized();
        Options = options.Clone();
        _random = new Random(options.Seed);
        if (options.Weights.Beta > 0)
        {
            _scorer = new ContrastiveScorer(options.HiddenSize);
        }

        if (options.Weights.Gamma > 0 && options.GraphHead == GraphHeadKind.Gcn)
        {
            _gcn = new GcnNodeClassifier(new GcnNodeClassifierOptions
            {
                InputSize = options.HiddenSize,
                HiddenSize = options.GcnHiddenSize,
                Dropout = options.GcnDropout,
                Classes = options.NodeClasses,
                Normalization = options.Normalization,
            });
        }
        else if (options.Weights.Gamma > 0)
        {
            var attention = new AttentionHeadOptions
            {
                InputSize = options.HiddenSize,
                HiddenSize = options.GcnHiddenSize,
                Heads = options.AttentionHeads,
                Dropout = options.GcnDropout,
                Classes = options.NodeClasses,
                PositionWeightedSpans = options.SpanPooling == PoolingKind.PositionWeightedMean,
            };
            if (options.GraphHead == GraphHeadKind.NodeAttention)
            {
                _nodeAttention = new NodeAttentionClassifier(attention);
            }
            else
            {
                _tokenAttention = new TokenAttentionClassifier(attention);
            }
        }

        RegisterComponents();
    }

    /// <summary>A copy of the settings.</summary>
    public MagDiObjectiveOptions Options { get; }

    /// <summary>The contrastive scorer, or null when β = 0.</summary>
    public ContrastiveScorer? Scorer => _scorer;

    /// <summary>The GCN head, or null when γ = 0 or another <see cref="MagDiObjectiveOptions.GraphHead"/> is used.</summary>
    public GcnNodeClassifier? NodeClassifier => _gcn;

    /// <summary>The graph head of the node-classification term (<see cref="MagDiObjectiveOptions.GraphHead"/>), or null when γ = 0.</summary>
    public IGraphHead? GraphHead => (IGraphHead?)_gcn ?? (IGraphHead?)_nodeAttention ?? _tokenAttention;

    /// <summary>
    /// Forms the margin-ranking pairs of a batch: inside each graph, correct nodes against incorrect ones, as rows of the
    /// real-node list. A graph with no correct or no incorrect node gives none.
    /// </summary>
    public static IReadOnlyList<(int Positive, int Negative)> FormPairs(GraphBatch graphs, PairingStrategy strategy, Random rng)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var graphOfRow = new int[graphs.RealNodeCount];
        var labels = new int[graphs.RealNodeCount];
        for (int g = 0; g < graphs.GraphCount; g++)
        {
            GraphSample graph = graphs.Graphs[g];
            for (int i = 0; i < graph.NodeCount; i++)
            {
                graphOfRow[graphs.RealNodeOffsets[g] + i] = g;
                labels[graphs.RealNodeOffsets[g] + i] = graph.Labels[i];
            }
        }

        return FormPairs(graphOfRow, labels, strategy, rng);
    }

    /// <summary>
    /// Forms the margin-ranking pairs from per-node metadata alone (no edges needed): row r belongs to graph
    /// <paramref name="graphOfNode"/>[r] and has label <paramref name="labels"/>[r]. Rows labelled
    /// <see cref="NodeLabels.Correct"/> are positives, <see cref="NodeLabels.Incorrect"/> negatives, any other label takes
    /// no part. Pairs never cross graphs; graphs are visited in order of first appearance, rows in index order.
    /// </summary>
    /// <returns>Pairs of row indices.</returns>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public static IReadOnlyList<(int Positive, int Negative)> FormPairs(IReadOnlyList<int> graphOfNode, IReadOnlyList<int> labels, PairingStrategy strategy, Random rng)
    {
        ArgumentNullException.ThrowIfNull(graphOfNode);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(rng);
        if (graphOfNode.Count != labels.Count)
        {
            throw new ArgumentException($"graphOfNode has {graphOfNode.Count} entries but labels has {labels.Count}; give one of each per node.", nameof(labels));
        }

        var groups = new Dictionary<int, (List<int> Positives, List<int> Negatives)>();
        var order = new List<int>();
        for (int r = 0; r < labels.Count; r++)
        {
            if (!groups.TryGetValue(graphOfNode[r], out var group))
            {
                group = ([], []);
                groups[graphOfNode[r]] = group;
                order.Add(graphOfNode[r]);
            }

            if (labels[r] == NodeLabels.Correct)
            {
                group.Positives.Add(r);
            }
            else if (labels[r] == NodeLabels.Incorrect)
            {
                group.Negatives.Add(r);
            }
        }

        var pairs = new List<(int, int)>();
        foreach (int g in order)
        {
            pairs.AddRange(strategy.Pair(groups[g].Positives, groups[g].Negatives, rng));
        }

        return pairs;
    }

    /// <summary>Evaluates the objective.</summary>
    /// <param name="input">The student's outputs and the graphs of the batch.</param>
    /// <returns>The total and each term, plus a report with slash-named metrics.</returns>
    /// <exception cref="ArgumentException">An input a positively weighted term needs is missing or mis-shaped.</exception>
    public override MagDiLoss forward(MagDiObjectiveInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        MagDiLossWeights w = Options.Weights;
        using var scope = NewDisposeScope();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        var terms = new List<Tensor>();
        Tensor? nll = null;
        Tensor? margin = null;
        Tensor? node = null;
        IReadOnlyList<(int Positive, int Negative)> pairs = [];

        if (w.Alpha > 0)
        {
            if (input.Logits is null && (input.HiddenStates is null || input.OutputProjection is null))
            {
                throw new ArgumentException("Logits, or HiddenStates with OutputProjection, are required when Alpha > 0 (the next-token loss).", nameof(input));
            }

            Tensor labels = input.Labels ?? throw new ArgumentException("Labels are required when Alpha > 0 (the next-token loss).", nameof(input));
            NextTokenLossResult r = input.Logits is { } logits
                ? NextTokenLoss.Compute(logits, labels)
                : NextTokenLoss.Compute(input.HiddenStates!, labels, input.OutputProjection!);
            nll = r.Loss;
            metrics[LossReport.Keys.NllTokens] = r.TokenCount;
            terms.Add(nll.Times(w.Alpha));
        }

        bool tokenHead = Options.GraphHead == GraphHeadKind.TokenAttention;
        if (w.Beta > 0 || w.Gamma > 0)
        {
            GraphBatch graphs = input.Graphs ?? throw new ArgumentException("Graphs are required when Beta > 0 or Gamma > 0.", nameof(input));
            Tensor? reps = input.NodeRepresentations;
            if (reps is null && (w.Beta > 0 || !tokenHead))
            {
                throw new ArgumentException("NodeRepresentations are required when Beta > 0 or Gamma > 0 (with a GCN or node-attention head).", nameof(input));
            }

            if (reps is not null && (reps.dim() != 2 || (input.Pairs is null && reps.shape[0] != graphs.RealNodeCount)))
            {
                throw new ArgumentException(
                    $"NodeRepresentations must have shape [{graphs.RealNodeCount}, d] (one row per real node of the graphs), got {TensorChecks.Shape(reps)}.",
                    nameof(input));
            }

            if (w.Beta > 0)
            {
                pairs = input.Pairs ?? FormPairs(graphs, Options.Pairing, input.PairingRandom ?? _random);
                foreach (var (p, n) in pairs)
                {
                    if (p < 0 || n < 0 || p >= reps!.shape[0] || n >= reps.shape[0])
                    {
                        throw new ArgumentException($"Pair ({p}, {n}) is outside the {reps!.shape[0]} rows of NodeRepresentations.", nameof(input));
                    }
                }

                Tensor scores = _scorer!.forward(reps!);                                   // [N], each node scored once
                var (posIndex, negIndex) = PairIndices(pairs, scores.device);
                MarginRankingLossResult r = MarginRankingLoss.Compute(
                    scores.index_select(0, posIndex), scores.index_select(0, negIndex), Options.Margin);
                margin = r.Loss;
                metrics[LossReport.Keys.MarginPairs] = r.PairCount;
                if (r.Accuracy is double acc)
                {
                    metrics[LossReport.Keys.MarginAccuracy] = acc;
                }

                terms.Add(margin.Times(w.Beta));
            }

            if (w.Gamma > 0)
            {
                int maxLabel = graphs.Labels.Where(l => l != NodeLabels.Ignore).DefaultIfEmpty(0).Max();
                if (maxLabel >= Options.NodeClasses)
                {
                    throw new ArgumentException(
                        $"The graphs use node label {maxLabel} but the GCN head has {Options.NodeClasses} classes; " +
                        "set NodeClasses = 3 for padded batches with missing-node labels.",
                        nameof(input));
                }

                Tensor logits;
                if (tokenHead)
                {
                    logits = _tokenAttention!.forward(TokenInput(input), graphs);          // [NodeCount, C]
                }
                else
                {
                    Tensor features = Options.NodeFeatures == NodeFeatureSource.Live
                        ? reps!
                        : (input.FrozenNodeFeatures ?? reps!).detach();
                    if (features.shape[0] != graphs.RealNodeCount)
                    {
                        throw new ArgumentException(
                            $"The node loss needs one feature row per real node of the graphs ({graphs.RealNodeCount}), got {features.shape[0]}; " +
                            "with explicit Pairs over other rows give FrozenNodeFeatures.",
                            nameof(input));
                    }

                    logits = GraphHead!.Classify(new GraphHeadInput { Graphs = graphs, NodeFeatures = features });
                }

                NodeClassificationLossResult r = NodeClassificationLoss.Compute(logits, graphs.LabelsTensor(logits.device));
                node = r.Loss;
                metrics[LossReport.Keys.NodeCount] = r.NodeCount;
                if (r.Accuracy is double acc)
                {
                    metrics[LossReport.Keys.NodeAccuracy] = acc;
                }

                terms.Add(node.Times(w.Gamma));
            }
        }

        Tensor total = terms[0];
        for (int i = 1; i < terms.Count; i++)
        {
            total = total.Plus(terms[i]);
        }

        nll ??= zeros([], dtype: total.dtype, device: total.device);
        margin ??= zeros([], dtype: total.dtype, device: total.device);
        node ??= zeros([], dtype: total.dtype, device: total.device);
        metrics[LossReport.Keys.Nll] = nll.to(ScalarType.Float64).item<double>();
        metrics[LossReport.Keys.Margin] = margin.to(ScalarType.Float64).item<double>();
        metrics[LossReport.Keys.Node] = node.to(ScalarType.Float64).item<double>();
        metrics[LossReport.Keys.Total] = total.to(ScalarType.Float64).item<double>();
        return new MagDiLoss(
            total.MoveToOuterDisposeScope(),
            nll.MoveToOuterDisposeScope(),
            margin.MoveToOuterDisposeScope(),
            node.MoveToOuterDisposeScope(),
            pairs,
            new LossReport(metrics));
    }

    /// <summary>The token states the token head reads: live, or detached for <see cref="NodeFeatureSource.Frozen"/>.</summary>
    private LinearizedGraphStates TokenInput(MagDiObjectiveInput input)
    {
        LinearizedGraphStates tokens = input.Tokens
            ?? throw new ArgumentException("Tokens (the hidden states of each MAG's linearised interaction) are required when Gamma > 0 with GraphHead TokenAttention.", nameof(input));
        return Options.NodeFeatures == NodeFeatureSource.Live ? tokens : new LinearizedGraphStates(tokens.HiddenStates.detach(), tokens.AttentionMask, tokens.NodeSpans);
    }

    private static (Tensor Positive, Tensor Negative) PairIndices(IReadOnlyList<(int Positive, int Negative)> pairs, Device device)
    {
        var pos = new long[pairs.Count];
        var neg = new long[pairs.Count];
        for (int i = 0; i < pairs.Count; i++)
        {
            pos[i] = pairs[i].Positive;
            neg[i] = pairs[i].Negative;
        }

        return (tensor(pos, dtype: ScalarType.Int64, device: device), tensor(neg, dtype: ScalarType.Int64, device: device));
    }
}
