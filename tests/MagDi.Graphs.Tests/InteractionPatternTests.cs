using CsCheck;
using MagDi.Graphs;

namespace MagDi.Graphs.Tests;

public class InteractionPatternTests
{
    private static HashSet<(int, int)> Edges(InteractionGraph g) => g.Edges.Pairs.ToHashSet();

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 9)]
    [InlineData(2, 18)]
    [InlineData(3, 27)]
    public void ReConcile_ConnectsEveryNodeToEveryNodeOfTheNextRound(int k, int edges)
    {
        var g = TestGraphs.Gsm8k(k);
        Assert.Same(InteractionPattern.ReConcile, g.Pattern);
        Assert.Equal(edges, g.Edges.Count);
        foreach (var (s, t) in g.Edges.Pairs)
        {
            Assert.Equal(g.Nodes[s].Round + 1, g.Nodes[t].Round);
        }
    }

    [Fact]
    public void Undirected_HasEveryReConcileEdgeBothWays()
    {
        var g = TestGraphs.Gsm8k(2, pattern: InteractionPattern.Undirected);
        var directed = Edges(TestGraphs.Gsm8k(2));
        var both = Edges(g);
        Assert.Equal(2 * directed.Count, g.Edges.Count);
        Assert.All(directed, e => Assert.Contains((e.Item2, e.Item1), both));
    }

    [Fact]
    public void FullyConnected_HasAllOrderedPairsWithoutSelfLoops()
    {
        var g = TestGraphs.Gsm8k(1, pattern: InteractionPattern.FullyConnected);
        Assert.Equal(6 * 5, g.Edges.Count);
        Assert.DoesNotContain(g.Edges.Pairs, e => e.Source == e.Target);
        Assert.Equal(30, Edges(g).Count);
    }

    [Fact]
    public void OwnChain_LinksEachAgentToItselfInTheNextRound()
    {
        var g = TestGraphs.Gsm8k(3, pattern: InteractionPattern.OwnChain);
        Assert.Equal(9, g.Edges.Count);
        Assert.All(g.Edges.Pairs, e =>
        {
            Assert.Equal(g.Nodes[e.Source].Agent, g.Nodes[e.Target].Agent);
            Assert.Equal(g.Nodes[e.Source].Round + 1, g.Nodes[e.Target].Round);
        });
    }

    [Fact]
    public void OwnChain_SkipsAgentsThatStoppedSpeaking()
    {
        var g = InteractionGraph.CreateBuilder().WithId("1").WithTask("gsm8k").WithQuestion("q").WithGoldAnswer("1")
            .AddNode("a", 0, "r", "1").AddNode("b", 0, "r", "2").AddNode("a", 1, "r", "1")
            .WithPattern(InteractionPattern.OwnChain).Build();
        Assert.Equal([(0, 2)], g.Edges.Pairs);
    }

    [Fact]
    public void Custom_PatternIsUsedAndValidated()
    {
        var backwards = InteractionPattern.Custom("backwards", s => InteractionPattern.ReConcile.CreateEdges(s).Pairs.Select(e => (e.Target, e.Source)));
        var g = TestGraphs.Gsm8k(1, pattern: backwards);
        Assert.Equal("backwards", g.Pattern.Name);
        Assert.All(g.Edges.Pairs, e => Assert.Equal(g.Nodes[e.Source].Round - 1, g.Nodes[e.Target].Round));

        var broken = InteractionPattern.Custom("broken", s => [(0, s.NodeCount)]);
        var ex = Assert.Throws<InvalidGraphException>(() => TestGraphs.Gsm8k(1, pattern: broken));
        Assert.Equal("edges", Assert.Single(ex.Problems).Field);
    }

    [Fact]
    public void WithPattern_ReplacesEdgesOnly()
    {
        var g = TestGraphs.Gsm8k(2);
        var full = g.WithPattern(InteractionPattern.FullyConnected);
        Assert.Equal(g.Nodes, full.Nodes);
        Assert.IsNotType<MagNode[]>(g.Nodes);
        Assert.Equal(72, full.Edges.Count);
        Assert.Equal(18, g.Edges.Count);
    }

    [Theory]
    [InlineData("reconcile")]
    [InlineData("Undirected")]
    [InlineData("FULLY-CONNECTED")]
    [InlineData("own-chain")]
    public void FromName_FindsBuiltIns(string name) =>
        Assert.Equal(name, InteractionPattern.FromName(name).Name, ignoreCase: true);

    [Fact]
    public void FromName_Unknown_Throws() =>
        Assert.Contains("reconcile", Assert.Throws<ArgumentException>(() => InteractionPattern.FromName("star")).Message);
}

public class EdgeIndexTests
{
    [Fact]
    public void Validate_AcceptsInRangeEdges()
    {
        var e = new EdgeIndex([0, 1], [1, 2]);
        e.Validate(3);
        Assert.Equal(2, e.Count);
        Assert.Equal([0L, 1L, 1L, 2L], e.ToCooArray());
    }

    [Theory]
    [InlineData(new[] { 0, 3 }, new[] { 1, 2 }, "source 3")]
    [InlineData(new[] { -1 }, new[] { 1 }, "source -1")]
    [InlineData(new[] { 0 }, new[] { 7 }, "target 7")]
    [InlineData(new[] { 0, 1 }, new[] { 1 }, "sources has 2 entries but targets has 1")]
    public void Validate_RejectsBadIndices(int[] sources, int[] targets, string message)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new EdgeIndex(sources, targets).Validate(3));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Validate_NegativeNodeCount_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => EdgeIndex.Empty.Validate(-1));

    [Fact]
    public void Pairs_MoreThanMaxEdges_AreRefusedWithoutEnumeratingTheRest()
    {
        long enumerated = 0;
        IEnumerable<(int, int)> Endless()
        {
            while (true)
            {
                enumerated++;
                yield return (0, 1);
            }
        }

        var ex = Assert.Throws<InvalidOperationException>(() => new EdgeIndex(Endless()));
        Assert.Contains("more than 10000000 edges", ex.Message);
        Assert.Equal(EdgeIndex.MaxEdges + 1L, enumerated);
    }

    [Fact]
    public void FullyConnected_OnAHugeGraph_IsAnInvalidGraphNotAHang()
    {
        // 4,000 rounds of one agent: 4,000 x 3,999 = 16 million ordered pairs, over EdgeIndex.MaxEdges.
        var b = InteractionGraph.CreateBuilder().WithId("huge").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1")
            .WithPattern(InteractionPattern.FullyConnected).AddAgent("a");
        for (int r = 0; r < 4_000; r++)
        {
            b.AddNode("a", r, "r", "1");
        }

        var ex = Assert.Throws<InvalidGraphException>(() => b.Build());
        Assert.Contains("EdgeIndex.MaxEdges", Assert.Single(ex.Problems).Reason);
    }
}

public class GraphShapeTests
{
    [Fact]
    public void NodesInRoundAndIndexOf_EqualTheLinearScan_ForAnyShape()
    {
        // Any (agent, round) list, sorted or not, dense or sparse (rounds beyond the node count use the scan fallback).
        var genShape = Gen.Select(Gen.Int[0, 4], Gen.Int[0, 12]).Array[0, 30];
        genShape.Sample(pairs =>
        {
            var shape = new GraphShape(5, pairs.Select(p => (p.Item1, p.Item2)));
            for (int r = -1; r <= shape.RoundCount; r++)
            {
                var expected = Enumerable.Range(0, pairs.Length).Where(i => pairs[i].Item2 == r);
                Assert.Equal(expected, shape.NodesInRound(r));
                for (int a = 0; a < 5; a++)
                {
                    int linear = Array.IndexOf(pairs.Select(p => (p.Item1, p.Item2)).ToArray(), (a, r));
                    Assert.Equal(linear, shape.IndexOf(a, r));
                }
            }
        });
    }

    [Fact]
    public void AGraphOf100000Rounds_BuildsAndComputesStatisticsInLinearTime()
    {
        // Was quadratic (every round scanned every node): minutes for this graph, and mags stats never finished.
        var b = InteractionGraph.CreateBuilder().WithId("deep").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1").AddAgent("a").AddAgent("b");
        for (int r = 0; r < 100_000; r++)
        {
            b.AddNode("a", r, "r", "1").AddNode("b", r, "r", "2");
        }

        // CPU time of this thread, not wall time: quadratic code took minutes of CPU, while a loaded machine only
        // stretches the wall clock (this guard once failed at 40 s wall under load; alone it takes about 1 s).
        var clock = MagDi.Testing.ThreadCpuClock.StartNew();
        var g = b.Build();
        var stats = MagStatistics.Compute([g]);
        _ = stats.ToMarkdown();
        Assert.Equal(4 * 99_999, g.Edges.Count);
        Assert.Equal(100_000, stats.Rounds.Count);
        Assert.All(stats.Rounds, r => Assert.Equal(0, r.AgreeingGraphs));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }
}
