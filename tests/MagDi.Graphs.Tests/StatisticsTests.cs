using System.Text.Json;
using MagDi.Graphs;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

public class StatisticsTests
{
    private static InteractionGraph Consensus(string id) => InteractionGraph.CreateBuilder()
        .ForQuestion(new Question(id, "gsm8k", "q", "42"))
        .AddNode("claude", 0, "r", "42").AddNode("gpt4", 0, "r", "$42.00").AddNode("bard", 0, "r", "42")
        .Build();

    [Fact]
    public void Compute_CountsLikeTable12()
    {
        // G2 graph: agent i answers 42 when (i + r) is even -> round 0: claude, bard correct; round 1: gpt4; round 2: claude, bard.
        var stats = MagStatistics.Compute([TestGraphs.Gsm8k(2, "a"), Consensus("b"), TestGraphs.Gsm8k(1, "c")]);
        Assert.Equal(3, stats.Graphs);
        Assert.Equal(9 + 3 + 6, stats.Nodes);
        Assert.Equal(new Dictionary<string, int> { ["gsm8k"] = 3 }, stats.Tasks);

        Assert.Equal([9, 6, 3], stats.Rounds.Select(r => r.Nodes));
        Assert.Equal([2 + 3 + 2, 1 + 1, 2], stats.Rounds.Select(r => r.Correct));
        Assert.Equal([3, 2, 1], stats.Rounds.Select(r => r.Graphs));
        Assert.Equal(1, stats.Rounds[0].AgreeingGraphs); // "$42.00" agrees with "42" after normalisation
        Assert.Equal(0, stats.Rounds[1].AgreeingGraphs);
        Assert.Equal(1.0 / 3, stats.Rounds[0].Agreement, 6);

        Assert.Equal(["claude", "gpt4", "bard"], stats.Agents.Select(a => a.Agent));
        Assert.All(stats.Agents, a => Assert.Equal(6, a.Nodes));
        var claude = stats.Agents[0];
        Assert.Equal([3, 2, 1], claude.Rounds.Select(r => r.Nodes));
        Assert.Equal([3, 0, 1], claude.Rounds.Select(r => r.Correct));
        Assert.Equal(4, claude.Correct);

        Assert.Equal([0, 1, 2], stats.GraphTypes.Select(t => t.InteractionRounds));
        Assert.Equal([1, 1, 1], stats.GraphTypes.Select(t => t.Graphs));
        Assert.Equal(["G0", "G1", "G2"], stats.GraphTypes.Select(t => t.Name));
        Assert.Equal(18 + 0 + 9, stats.Edges);
        Assert.Equal(stats.Nodes, stats.Correct + stats.Incorrect);
    }

    [Fact]
    public void Builder_StreamingEqualsCompute()
    {
        var graphs = Enumerable.Range(0, 20).Select(i => TestGraphs.Gsm8k(i % 4, $"q{i}")).ToList();
        var b = new MagStatisticsBuilder();
        graphs.ForEach(g => b.Add(g));
        Assert.Equal(MagStatistics.Compute(graphs).ToJson(), b.Build().ToJson());
    }

    [Fact]
    public void ToJson_AndMarkdown_ContainTheTables()
    {
        var stats = MagStatistics.Compute([TestGraphs.Gsm8k(1), Consensus("b")]);
        using var doc = JsonDocument.Parse(stats.ToJson());
        Assert.Equal(2, doc.RootElement.GetProperty("graphs").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("rounds").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("rounds")[0].TryGetProperty("agreement", out _));
        Assert.Equal(2, doc.RootElement.GetProperty("graph_types").GetArrayLength());
        var md = stats.ToMarkdown();
        Assert.Contains("| Round | Nodes |", md);
        Assert.Contains("| claude |", md);
        Assert.Contains("| G1 | 1 | 6 |", md);
    }

    [Fact]
    public void Compute_EmptyCorpus_IsAllZero()
    {
        var stats = MagStatistics.Compute([]);
        Assert.Equal(0, stats.Graphs);
        Assert.Equal(0, stats.Accuracy);
        Assert.Empty(stats.Rounds);
    }
}
