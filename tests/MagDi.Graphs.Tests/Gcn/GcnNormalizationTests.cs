using MagDi.Graphs.Gcn;

namespace MagDi.Graphs.Tests.Gcn;

public class GcnNormalizationTests
{
    // Round 0 nodes 0 and 1 both talk to round 1 node 2: 0 -> 2, 1 -> 2.
    private static readonly int[] Sources = [0, 1];
    private static readonly int[] Targets = [2, 2];

    [Fact]
    public void RowMean_TargetAveragesItsInNeighboursAndItself()
    {
        GcnNormalizedEdges edges = GcnNormalization.Compute(Sources, Targets, 3, GcnNormalizationKind.RowMean);

        double[,] a = edges.ToDense();
        double third = 1.0 / 3.0;
        double[,] expected =
        {
            { 1, 0, 0 },
            { 0, 1, 0 },
            { third, third, third },
        };
        AssertMatrix(expected, a);
        Assert.Equal(5, edges.EdgeCount);
        Assert.Equal([0, 1, 0, 1, 2], edges.Sources);
        Assert.Equal([2, 2, 0, 1, 2], edges.Targets);
    }

    [Fact]
    public void Symmetric_WeighsEdgesByInverseSqrtOfBothInDegrees()
    {
        GcnNormalizedEdges edges = GcnNormalization.Compute(Sources, Targets, 3, GcnNormalizationKind.Symmetric);

        // in-degrees with self loops: 1, 1, 3. weight(s -> t) = 1 / sqrt(deg s * deg t).
        double cross = 1.0 / Math.Sqrt(3.0);
        double[,] expected =
        {
            { 1, 0, 0 },
            { 0, 1, 0 },
            { cross, cross, 1.0 / 3.0 },
        };
        AssertMatrix(expected, edges.ToDense());
    }

    [Fact]
    public void Symmetric_OnUndirectedPath_MatchesKipfWellingFormula()
    {
        // Path 0 - 1 - 2 in both directions: A + I has degrees 2, 3, 2.
        int[] s = [0, 1, 1, 2];
        int[] t = [1, 0, 2, 1];
        double[,] a = GcnNormalization.Compute(s, t, 3, GcnNormalizationKind.Symmetric).ToDense();

        double[] deg = [2, 3, 2];
        double[,] m = { { 1, 1, 0 }, { 1, 1, 1 }, { 0, 1, 1 } };
        var expected = new double[3, 3];
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                expected[i, j] = m[i, j] / Math.Sqrt(deg[i] * deg[j]);
            }
        }

        AssertMatrix(expected, a);
    }

    [Fact]
    public void RowMean_RowsSumToOne()
    {
        int[] s = [0, 1, 2, 0, 1, 2, 3, 4, 5];
        int[] t = [3, 3, 3, 4, 4, 4, 6, 6, 6];
        double[,] a = GcnNormalization.Compute(s, t, 7, GcnNormalizationKind.RowMean).ToDense();
        for (int i = 0; i < 7; i++)
        {
            double sum = 0;
            for (int j = 0; j < 7; j++)
            {
                sum += a[i, j];
            }

            Assert.Equal(1.0, sum, 12);
        }
    }

    [Fact]
    public void ExistingSelfLoop_IsKeptAndNotDoubled()
    {
        GcnNormalizedEdges edges = GcnNormalization.Compute([0, 0], [0, 1], 2, GcnNormalizationKind.RowMean);

        Assert.Equal(3, edges.EdgeCount);                 // 0->0 (given), 0->1, 1->1 (added)
        double[,] a = edges.ToDense();
        Assert.Equal(1.0, a[0, 0], 12);
        Assert.Equal(0.5, a[1, 0], 12);
        Assert.Equal(0.5, a[1, 1], 12);
    }

    [Fact]
    public void DuplicateEdges_CountTwice()
    {
        double[,] a = GcnNormalization.Compute([0, 0], [1, 1], 2, GcnNormalizationKind.RowMean).ToDense();

        Assert.Equal(2.0 / 3.0, a[1, 0], 12);
        Assert.Equal(1.0 / 3.0, a[1, 1], 12);
    }

    [Fact]
    public void WithoutSelfLoops_SymmetricGivesZeroWeightFromNodesWithoutInDegree()
    {
        GcnNormalizedEdges edges = GcnNormalization.Compute([0], [1], 2, GcnNormalizationKind.Symmetric, addSelfLoops: false);

        Assert.Equal(1, edges.EdgeCount);
        Assert.Equal(0.0, edges.Weights[0]);
        GcnNormalizedEdges mean = GcnNormalization.Compute([0], [1], 2, GcnNormalizationKind.RowMean, addSelfLoops: false);
        Assert.Equal(1.0, mean.Weights[0]);
    }

    [Fact]
    public void OutOfRangeIndex_IsRejectedNamingTheEdge()
    {
        var ex = Assert.Throws<ArgumentException>(() => GcnNormalization.Compute([0, 1], [1, 3], 3, GcnNormalizationKind.RowMean));
        Assert.Contains("edge 1", ex.Message);
        Assert.Contains("target 3", ex.Message);
        var neg = Assert.Throws<ArgumentException>(() => GcnNormalization.Compute([-1], [0], 3, GcnNormalizationKind.RowMean));
        Assert.Contains("source -1", neg.Message);
    }

    [Fact]
    public void LengthMismatch_IsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => GcnNormalization.Compute([0, 1], [1], 3, GcnNormalizationKind.Symmetric));
        Assert.Contains("2 entries", ex.Message);
    }

    [Fact]
    public void EmptyGraph_HasNoEdges()
    {
        GcnNormalizedEdges edges = GcnNormalization.Compute([], [], 0, GcnNormalizationKind.RowMean);
        Assert.Equal(0, edges.EdgeCount);
        Assert.Equal(0, edges.NodeCount);
    }

    private static void AssertMatrix(double[,] expected, double[,] actual)
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        for (int i = 0; i < expected.GetLength(0); i++)
        {
            for (int j = 0; j < expected.GetLength(1); j++)
            {
                Assert.True(Math.Abs(expected[i, j] - actual[i, j]) < 1e-12, $"[{i},{j}]: expected {expected[i, j]}, got {actual[i, j]}");
            }
        }
    }
}
