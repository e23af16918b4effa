using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using MagDi.Graphs.Tests.Gcn;
using TorchSharp;
using static TorchSharp.torch;
using GcnTestGraphs = MagDi.Graphs.Tests.Gcn.TestGraphs;

namespace MagDi.Graphs.Tests.Heads;

public class NodeAttentionClassifierTests
{
    private static AttentionHeadOptions Options(int input = 6, int hidden = 8, int heads = 2, int classes = 2) =>
        new() { InputSize = input, HiddenSize = hidden, Heads = heads, Dropout = 0, Classes = classes };

    [Fact]
    public void Classify_BatchOfGraphsWithThreeToTwelveNodes_GivesOneRowPerNode()
    {
        using var scope = NewDisposeScope();
        using var head = new NodeAttentionClassifier(Options());
        GraphBatch batch = GraphBatch.BlockDiagonal(Enumerable.Range(3, 10).Select(n => GcnTestGraphs.Layered(n)).ToArray());

        Tensor logits = head.Classify(new GraphHeadInput { Graphs = batch, NodeFeatures = randn(batch.RealNodeCount, 6) });

        Assert.Equal([75L, 2L], logits.shape);
        Assert.False(logits.isnan().any().item<bool>());
        Assert.Equal(GraphHeadKind.NodeAttention, head.Kind);
    }

    [Fact]
    public void StateDictKeys_NameBothAttentionLayersAndTheClassifier()
    {
        var defaults = new AttentionHeadOptions { InputSize = 4 };
        Assert.Equal(512, defaults.HiddenSize);
        Assert.Equal(8, defaults.Heads);
        Assert.Equal(0.5, defaults.Dropout);
        using var head = new NodeAttentionClassifier(defaults);
        string[] projections = ["k_proj", "o_proj", "q_proj", "v_proj"];
        string[] expected = [.. new[] { "attn1", "attn2" }.SelectMany(a => projections.SelectMany(p => new[] { $"{a}.{p}.bias", $"{a}.{p}.weight" })),
            "classifier.bias", "classifier.weight"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), head.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal([512L, 4L], head.state_dict()["attn1.q_proj.weight"].shape);
    }

    [Fact]
    public void ANode_IgnoresEdges_ButSeesEveryNodeOfItsOwnMag_AndNoneOfAnother()
    {
        using var scope = NewDisposeScope();
        using var head = new NodeAttentionClassifier(Options());
        head.eval();
        // Weights and features from the test's own generator: with global random numbers (shared with tests running in
        // parallel), some draws left every hidden unit of node 0 at zero after the last ReLU, so nothing could move it.
        using var generator = new Generator(5UL);
        using (no_grad())
        {
            foreach (var p in head.parameters())
            {
                p.copy_(randn(p.shape, generator: generator));
            }
        }

        GraphSample first = GcnTestGraphs.Layered(6);
        var noEdges = new GraphSample(first.NodeCount, [], [], first.Labels);
        Tensor x = randn([10, 6], generator: generator);

        Tensor a = head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([first, GcnTestGraphs.Layered(4)]), NodeFeatures = x });
        Tensor b = head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([noEdges, GcnTestGraphs.Layered(4)]), NodeFeatures = x });
        Assert.True(a.allclose(b, 0, 0), "node attention must not read the edges");

        // A later node of the same MAG changes an earlier node's logits (no causal order, no edge needed) ...
        Tensor changedOwn = x.clone();
        changedOwn[5] = randn([6], generator: generator);
        Tensor c = head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([first, GcnTestGraphs.Layered(4)]), NodeFeatures = changedOwn });
        Assert.False(c[0].allclose(a[0], 1e-6, 1e-6));

        // ... while the nodes of another MAG in the batch change nothing.
        Tensor changedOther = x.clone();
        changedOther[7] = randn([6], generator: generator);
        Tensor d = head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([first, GcnTestGraphs.Layered(4)]), NodeFeatures = changedOther });
        Assert.True(d.narrow(0, 0, 6).allclose(a.narrow(0, 0, 6), 1e-6, 1e-6));
    }

    [Fact]
    public void PaddedBatch_MasksPaddingNodesAsKeys_AndClassifiesThemAsTheThirdClass()
    {
        using var scope = NewDisposeScope();
        using var head = new NodeAttentionClassifier(Options(input: 4, classes: 3));
        head.eval();
        GraphSample small = GcnTestGraphs.Layered(3);
        Tensor x = randn(3, 4);

        Tensor padded = head.Classify(new GraphHeadInput { Graphs = GraphBatch.Padded([small]), NodeFeatures = x });
        Tensor unpadded = head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([small]), NodeFeatures = x });

        Assert.Equal([12L, 3L], padded.shape);
        Assert.True(padded.narrow(0, 0, 3).allclose(unpadded, 1e-6, 1e-6), "padding nodes must not be attended to");
        Assert.False(padded.isnan().any().item<bool>());
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var head = new NodeAttentionClassifier(Options(input: 3, hidden: 4, heads: 2));
        head.to(ScalarType.Float64);
        head.eval();
        GraphBatch batch = GraphBatch.Padded([GcnTestGraphs.Layered(3), GcnTestGraphs.Layered(4)], nodesPerGraph: 5);
        Tensor x = randn(7, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor probe = randn(10, 2, dtype: ScalarType.Float64);
        Tensor query = head.named_parameters().Single(p => p.name == "attn1.q_proj.weight").parameter;

        GradCheck.AssertGradients(() => (head.forward(x, batch) * probe).sum(), [x, query]);
    }

    [Fact]
    public void InvalidOptions_AreAllReportedAtOnce_AndMissingFeaturesAreNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => new NodeAttentionClassifier(new AttentionHeadOptions { InputSize = 0, HiddenSize = 10, Heads = 4, Dropout = 1, Classes = 1 }));
        Assert.Contains("InputSize", ex.Message);
        Assert.Contains("multiple of Heads", ex.Message);
        Assert.Contains("Dropout", ex.Message);
        Assert.Contains("Classes", ex.Message);

        using var head = new NodeAttentionClassifier(Options());
        var missing = Assert.Throws<ArgumentException>(() => head.Classify(new GraphHeadInput { Graphs = GraphBatch.BlockDiagonal([GcnTestGraphs.Layered(3)]) }));
        Assert.Contains("NodeFeatures", missing.Message);
    }

    [Fact]
    public void TheGcnAndNodeAttention_AreGraphHeadsOverTheSameInput()
    {
        using var scope = NewDisposeScope();
        using var gcn = new GcnNodeClassifier(new GcnNodeClassifierOptions { InputSize = 4, HiddenSize = 8, Dropout = 0 });
        using var attention = new NodeAttentionClassifier(Options(input: 4));
        IGraphHead[] heads = [gcn, attention];
        GraphBatch batch = GraphBatch.BlockDiagonal([GcnTestGraphs.Layered(5)]);
        var input = new GraphHeadInput { Graphs = batch, NodeFeatures = randn(5, 4) };

        Assert.Equal([GraphHeadKind.Gcn, GraphHeadKind.NodeAttention], heads.Select(h => h.Kind));
        Assert.All(heads, h => Assert.Equal([5L, 2L], h.Classify(input).shape));
        Assert.True(heads[0].Classify(input).allclose(gcn.Classify(input.NodeFeatures, batch), 0, 0));
    }
}

public class TokenAttentionClassifierTests
{
    private static AttentionHeadOptions Options(int input = 6, int hidden = 8, int heads = 2, bool positionWeighted = true) =>
        new() { InputSize = input, HiddenSize = hidden, Heads = heads, Dropout = 0, PositionWeightedSpans = positionWeighted };

    /// <summary>Two MAGs (3 and 2 nodes) linearised into rows of 10 and 7 tokens, padded to 10: spans of 3, 2, 4 / 3, 3 tokens after a 1-token prompt.</summary>
    private static (GraphBatch Batch, LinearizedGraphStates Tokens) Example(int d = 6, ScalarType dtype = ScalarType.Float32, Generator? generator = null)
    {
        GraphBatch batch = GraphBatch.BlockDiagonal([GcnTestGraphs.Layered(3), GcnTestGraphs.Layered(2)]);
        Tensor hidden = randn([2, 10, d], dtype: dtype, generator: generator);
        Tensor mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }, [2, 10]);
        TokenSpan[] spans = [new(0, 1, 3), new(0, 4, 2), new(0, 6, 4), new(1, 1, 3), new(1, 4, 3)];
        return (batch, new LinearizedGraphStates(hidden, mask, spans));
    }

    [Fact]
    public void Classify_GivesOneRowPerNode_FromItsSpan()
    {
        using var scope = NewDisposeScope();
        using var head = new TokenAttentionClassifier(Options());
        var (batch, tokens) = Example();

        Tensor logits = head.Classify(new GraphHeadInput { Graphs = batch, Tokens = tokens });

        Assert.Equal([5L, 2L], logits.shape);
        Assert.False(logits.isnan().any().item<bool>());
        Assert.Equal(GraphHeadKind.TokenAttention, head.Kind);
        Assert.Equal(head.state_dict().Keys.Order(StringComparer.Ordinal), new NodeAttentionClassifier(Options()).state_dict().Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AnyTokenAttendsToAnyTokenOfItsMag_ButNotToPaddingOrAnotherMag()
    {
        using var scope = NewDisposeScope();
        using var head = new TokenAttentionClassifier(Options());
        head.eval();
        // Weights and states from the test's own generator, as in the node-attention test above: with global random
        // numbers (shared with tests running in parallel), some draws left node 0's hidden units all at zero after the
        // last ReLU, so nothing could move its logits (seen once in a full run).
        using var generator = new Generator(5UL);
        using (no_grad())
        {
            foreach (var p in head.parameters())
            {
                p.copy_(randn(p.shape, generator: generator));
            }
        }

        var (batch, tokens) = Example(generator: generator);
        Tensor a = head.forward(tokens, batch);

        // The last token of MAG 0 (inside node 2's span) changes node 0's logits: attention is bidirectional.
        Tensor later = tokens.HiddenStates.clone();
        later[0, 9] = randn([6], generator: generator);
        Tensor b = head.forward(new LinearizedGraphStates(later, tokens.AttentionMask, tokens.NodeSpans), batch);
        Assert.False(b[0].allclose(a[0], 1e-6, 1e-6));
        Assert.True(b.narrow(0, 3, 2).allclose(a.narrow(0, 3, 2), 1e-6, 1e-6), "MAG 1 must not see MAG 0's tokens");

        // Padding positions of MAG 1 change nothing.
        Tensor padding = tokens.HiddenStates.clone();
        padding[1, 8] = randn([6], generator: generator) * 100;
        Tensor c = head.forward(new LinearizedGraphStates(padding, tokens.AttentionMask, tokens.NodeSpans), batch);
        Assert.True(c.allclose(a, 1e-6, 1e-6));
    }

    [Fact]
    public void PaddedBatch_GivesMissingNodesTheClassifierOfAZeroVector()
    {
        using var scope = NewDisposeScope();
        var options = Options();
        options.Classes = 3;
        using var head = new TokenAttentionClassifier(options);
        head.eval();
        var (_, tokens) = Example();
        GraphBatch padded = GraphBatch.Padded([GcnTestGraphs.Layered(3), GcnTestGraphs.Layered(2)], nodesPerGraph: 4);

        Tensor logits = head.forward(tokens, padded);

        Assert.Equal([8L, 3L], logits.shape);
        Assert.True(logits[3].allclose(logits[7], 0, 0), "both padding nodes get the classifier's bias");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gradients_MatchFiniteDifferences(bool positionWeighted)
    {
        using var scope = NewDisposeScope();
        using var head = new TokenAttentionClassifier(Options(input: 3, hidden: 4, heads: 2, positionWeighted: positionWeighted));
        head.to(ScalarType.Float64);
        head.eval();
        var (batch, tokens) = Example(d: 3, dtype: ScalarType.Float64);
        Tensor hidden = tokens.HiddenStates.requires_grad_(true);
        Tensor probe = randn(5, 2, dtype: ScalarType.Float64);
        Tensor value = head.named_parameters().Single(p => p.name == "attn2.v_proj.weight").parameter;

        GradCheck.AssertGradients(() => (head.forward(tokens, batch) * probe).sum(), [hidden, value]);
    }

    [Fact]
    public void MismatchedSpansAndShapes_AreNamed()
    {
        using var scope = NewDisposeScope();
        using var head = new TokenAttentionClassifier(Options());
        var (batch, tokens) = Example();

        var fewer = Assert.Throws<ArgumentException>(() => head.forward(new LinearizedGraphStates(tokens.HiddenStates, tokens.AttentionMask, tokens.NodeSpans.Take(4).ToArray()), batch));
        Assert.Contains("4 node spans for 5 real nodes", fewer.Message);
        var outside = Assert.Throws<ArgumentException>(() => head.forward(new LinearizedGraphStates(tokens.HiddenStates, tokens.AttentionMask, [.. tokens.NodeSpans.Take(4), new TokenSpan(1, 8, 5)]), batch));
        Assert.Contains("graph 1 node 1", outside.Message);
        var width = Assert.Throws<ArgumentException>(() => head.forward(new LinearizedGraphStates(randn(2, 10, 5), tokens.AttentionMask, tokens.NodeSpans), batch));
        Assert.Contains("[G, L, 6]", width.Message);
        var missing = Assert.Throws<ArgumentException>(() => head.Classify(new GraphHeadInput { Graphs = batch, NodeFeatures = randn(5, 6) }));
        Assert.Contains("Tokens", missing.Message);
    }
}
