using MagDi.Graphs.Gcn;
using static TorchSharp.torch;

namespace MagDi.Graphs.Tests.Gcn;

public class GraphBatchTests
{
    [Fact]
    public void BlockDiagonal_OffsetsEdgesAndBuildsBatchVector()
    {
        var a = new GraphSample(3, [0, 1], [2, 2], [1, 0, 1]);
        var b = new GraphSample(2, [0], [1], [0, 0]);

        GraphBatch batch = GraphBatch.BlockDiagonal([a, b]);

        Assert.Equal(5, batch.NodeCount);
        Assert.Equal(5, batch.RealNodeCount);
        Assert.Equal([0, 1, 3], batch.Sources);
        Assert.Equal([2, 2, 4], batch.Targets);
        Assert.Equal([0, 0, 0, 1, 1], batch.Batch);
        Assert.Equal([1, 0, 1, 0, 0], batch.Labels);
        Assert.Equal([0, 3], batch.NodeOffsets);
        Assert.Equal([0, 3], batch.RealNodeOffsets);
        Assert.False(batch.IsPadded);
    }

    [Theory]
    [InlineData(GcnNormalizationKind.RowMean)]
    [InlineData(GcnNormalizationKind.Symmetric)]
    public void BlockDiagonalPropagation_EqualsPerGraphPropagation(GcnNormalizationKind kind)
    {
        using var scope = NewDisposeScope();
        GraphSample[] graphs = Enumerable.Range(3, 10).Select(n => TestGraphs.Layered(n)).ToArray();   // 3..12 nodes
        GraphBatch batch = GraphBatch.BlockDiagonal(graphs);
        Tensor x = randn(batch.RealNodeCount, 4);

        using GcnAdjacency all = batch.CreateAdjacency(kind);
        Tensor together = all.Propagate(x);

        for (int g = 0; g < graphs.Length; g++)
        {
            using GcnAdjacency one = GcnAdjacency.FromEdges(GcnNormalization.Compute(graphs[g].Sources, graphs[g].Targets, graphs[g].NodeCount, kind));
            Tensor alone = one.Propagate(x.narrow(0, batch.NodeOffsets[g], graphs[g].NodeCount));
            Assert.True(together.narrow(0, batch.NodeOffsets[g], graphs[g].NodeCount).allclose(alone, rtol: 1e-5, atol: 1e-6), $"graph {g}");
        }
    }

    [Fact]
    public void Padded_PadsEveryGraphToTwelveWithMissingLabel()
    {
        GraphSample[] graphs = [TestGraphs.Layered(3), TestGraphs.Layered(12), TestGraphs.Layered(6)];

        GraphBatch batch = GraphBatch.Padded(graphs);

        Assert.True(batch.IsPadded);
        Assert.Equal(36, batch.NodeCount);
        Assert.Equal(21, batch.RealNodeCount);
        Assert.Equal([0, 12, 24], batch.NodeOffsets);
        Assert.Equal([0, 3, 15], batch.RealNodeOffsets);
        Assert.All(Enumerable.Range(3, 9), i => Assert.Equal(NodeLabels.Missing, batch.Labels[i]));
        Assert.All(Enumerable.Range(3, 9), i => Assert.Equal(-1, batch.RealNodeRows[i]));
        Assert.Equal(3, batch.RealNodeRows[12]);
        Assert.All(batch.Sources, s => Assert.True(s % 12 < graphs[s / 12].NodeCount));
    }

    [Fact]
    public void Padded_ArrangeNodeFeatures_PutsRealRowsInPlaceAndZerosElsewhere()
    {
        using var scope = NewDisposeScope();
        GraphBatch batch = GraphBatch.Padded([TestGraphs.Layered(3), TestGraphs.Layered(4)], nodesPerGraph: 5, paddingLabel: NodeLabels.Ignore);
        Tensor x = arange(1, 8, dtype: ScalarType.Float32).unsqueeze(1);   // real rows 1..7

        float[] arranged = batch.ArrangeNodeFeatures(x).squeeze(1).data<float>().ToArray();

        Assert.Equal([1f, 2f, 3f, 0f, 0f, 4f, 5f, 6f, 7f, 0f], arranged);
        Assert.Equal(NodeLabels.Ignore, batch.Labels[4]);
    }

    [Fact]
    public void Padded_RejectsGraphLargerThanPadSize()
    {
        var ex = Assert.Throws<ArgumentException>(() => GraphBatch.Padded([TestGraphs.Layered(3), TestGraphs.Layered(13)]));
        Assert.Contains("graph 1", ex.Message);
        Assert.Contains("13 nodes", ex.Message);
    }

    [Fact]
    public void InvalidGraph_IsRejectedNamingGraphAndEdge()
    {
        var bad = new GraphSample(3, [0, 5], [1, 2], [0, 1, 0]);
        var ex = Assert.Throws<ArgumentException>(() => GraphBatch.BlockDiagonal([TestGraphs.Layered(3), bad]));
        Assert.Contains("graph 1", ex.Message);
        Assert.Contains("edge 1", ex.Message);
        Assert.Contains("source 5", ex.Message);
    }

    [Fact]
    public void LabelCountMismatch_AndNegativeLabels_AreRejected()
    {
        var wrongCount = new GraphSample(3, [], [], [0, 1]);
        Assert.Contains("one label per node", Assert.Throws<ArgumentException>(() => GraphBatch.BlockDiagonal([wrongCount])).Message);
        var negative = new GraphSample(2, [], [], [0, -3]);
        Assert.Contains("node 1 has label -3", Assert.Throws<ArgumentException>(() => GraphBatch.BlockDiagonal([negative])).Message);
        Assert.Throws<ArgumentException>(() => GraphBatch.BlockDiagonal([]));
    }

    [Fact]
    public void ArrangeNodeFeatures_RejectsWrongRowCount()
    {
        GraphBatch batch = GraphBatch.BlockDiagonal([TestGraphs.Layered(3)]);
        using Tensor x = zeros(4, 2);
        Assert.Contains("[3, d]", Assert.Throws<ArgumentException>(() => batch.ArrangeNodeFeatures(x)).Message);
    }
}
