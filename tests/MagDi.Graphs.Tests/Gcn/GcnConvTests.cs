using MagDi.Graphs.Gcn;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Graphs.Tests.Gcn;

public class GcnConvTests
{
    [Fact]
    public void Forward_OnTinyGraph_MatchesHandComputedRowMean()
    {
        using var scope = NewDisposeScope();
        using var conv = new GcnConv(1, 1);
        using (no_grad())
        {
            conv.parameters().First(p => p.dim() == 2).copy_(tensor(new float[,] { { 2f } }));
        }

        using GcnAdjacency adj = GcnAdjacency.FromEdges(GcnNormalization.Compute([0, 1], [2, 2], 3, GcnNormalizationKind.RowMean));
        Tensor x = tensor(new float[,] { { 1f }, { 2f }, { 3f } });

        float[] y = conv.forward(x, adj).data<float>().ToArray();

        // h = 2x = [2, 4, 6]; nodes 0 and 1 keep themselves, node 2 averages all three: (2 + 4 + 6) / 3 = 4.
        Assert.Equal([2f, 4f, 4f], y);
    }

    [Fact]
    public void Initialisation_IsGlorotWeightAndZeroBias_WithPygKeys()
    {
        using var conv = new GcnConv(64, 32);
        var state = conv.state_dict();

        Assert.Equal(["bias", "lin.weight"], state.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([32L, 64L], state["lin.weight"].shape);
        Assert.Equal(0.0, state["bias"].abs().sum().item<float>());
        double bound = Math.Sqrt(6.0 / (64 + 32));
        Assert.True(state["lin.weight"].abs().max().item<float>() <= bound + 1e-6);
        Assert.True(state["lin.weight"].abs().max().item<float>() > bound * 0.8);
    }

    [Theory]
    [InlineData(GcnNormalizationKind.RowMean)]
    [InlineData(GcnNormalizationKind.Symmetric)]
    public void Forward_EqualsDenseFormula(GcnNormalizationKind kind)
    {
        using var scope = NewDisposeScope();
        using var conv = new GcnConv(5, 4);
        using (no_grad())
        {
            foreach (var p in conv.parameters())
            {
                p.uniform_(-1, 1);
            }
        }

        GraphSample g = TestGraphs.Layered(9);
        using GcnAdjacency adj = GcnAdjacency.FromEdges(GcnNormalization.Compute(g.Sources, g.Targets, 9, kind));
        Tensor x = randn(9, 5);
        var state = conv.state_dict();

        Tensor expected = adj.ToDenseTensor().matmul(x.matmul(state["lin.weight"].t())) + state["bias"];

        Assert.True(conv.forward(x, adj).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Theory]
    [InlineData(GcnNormalizationKind.RowMean)]
    [InlineData(GcnNormalizationKind.Symmetric)]
    public void Gradients_MatchFiniteDifferences(GcnNormalizationKind kind)
    {
        using var scope = NewDisposeScope();
        using var conv = new GcnConv(3, 2);
        conv.to(ScalarType.Float64);
        using (no_grad())
        {
            foreach (var p in conv.parameters())
            {
                p.uniform_(-1, 1);
            }
        }

        GraphSample g = TestGraphs.Layered(6);
        using GcnAdjacency adj = GcnAdjacency.FromEdges(GcnNormalization.Compute(g.Sources, g.Targets, 6, kind), ScalarType.Float64);
        Tensor x = randn(6, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor probe = randn(6, 2, dtype: ScalarType.Float64);

        var leaves = new List<Tensor> { x };
        leaves.AddRange(conv.parameters());
        GradCheck.AssertGradients(() => (conv.forward(x, adj) * probe).sum(), leaves);
    }

    [Fact]
    public void DenseTensor_EqualsDenseArray_WithDuplicateEdges()
    {
        using var scope = NewDisposeScope();
        GcnNormalizedEdges edges = GcnNormalization.Compute([0, 0, 2, 1], [1, 1, 1, 0], 3, GcnNormalizationKind.Symmetric);
        using GcnAdjacency adj = GcnAdjacency.FromEdges(edges, ScalarType.Float64);

        double[,] expected = edges.ToDense();
        double[] actual = adj.ToDenseTensor().data<double>().ToArray();

        Assert.Equal(expected.Cast<double>().ToArray(), actual);
    }

    [Fact]
    public void Propagate_RejectsFeaturesOfTheWrongNodeCount()
    {
        using GcnAdjacency adj = GcnAdjacency.FromEdges(GcnNormalization.Compute([0], [1], 2, GcnNormalizationKind.RowMean));
        using Tensor x = zeros(3, 4);
        var ex = Assert.Throws<ArgumentException>(() => adj.Propagate(x));
        Assert.Contains("[2, F]", ex.Message);
    }
}
