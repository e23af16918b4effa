using MagDi.Graphs;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

public class InteractionGraphTests
{
    [Theory]
    [InlineData(0, 3)]
    [InlineData(1, 6)]
    [InlineData(2, 9)]
    [InlineData(3, 12)]
    public void GraphType_MatchesNodeCount(int k, int nodes)
    {
        var g = TestGraphs.Gsm8k(k);
        Assert.Equal(nodes, g.Nodes.Count);
        Assert.Equal(k, g.InteractionRounds);
        Assert.Equal(k + 1, g.RoundCount);
    }

    [Fact]
    public void Builder_OrdersNodesByRoundThenAgent_AndComputesCorrectness()
    {
        var g = InteractionGraph.CreateBuilder()
            .WithId("x").WithTask("SQA").WithQuestion("Can penguins fly?").WithGoldAnswer("false")
            .AddAgent("claude").AddAgent("gpt4")
            .AddNode("gpt4", 1, "r", "No.", 0.9)
            .AddNode("claude", 1, "r", "no", 0.8)
            .AddNode("gpt4", 0, "r", "yes", 0.6)
            .AddNode("claude", 0, "r", "No, they cannot.", 1.0)
            .Build();

        Assert.Equal("strategyqa", g.Task);
        Assert.Equal(["claude", "gpt4"], g.Agents);
        Assert.Equal([("claude", 0), ("gpt4", 0), ("claude", 1), ("gpt4", 1)], g.Nodes.Select(n => (n.Agent, n.Round)));
        Assert.Equal([true, false, true, true], g.Nodes.Select(n => n.IsCorrect));
        Assert.Equal(3, g.CorrectNodes.Count());
        Assert.Single(g.IncorrectNodes);
        Assert.Equal(3, g.IndexOf("gpt4", 1));
        Assert.Equal(-1, g.IndexOf("gpt4", 2));
        Assert.Equal(-1, g.IndexOf("bard", 0));
        Assert.Equal(["claude", "gpt4"], g.NodesInRound(1).Select(n => n.Agent));
        Assert.Empty(g.NodesInRound(5));
    }

    [Fact]
    public void Builder_ExplicitCorrectnessWins()
    {
        var g = InteractionGraph.CreateBuilder().WithId("x").WithTask("gsm8k").WithQuestion("q").WithGoldAnswer("1")
            .AddNode("a", 0, "r", "2", isCorrect: true).Build();
        Assert.True(g.Nodes[0].IsCorrect);
    }

    [Fact]
    public void Builder_InvalidNode_KeepsRawTextAndIsNeverCorrect()
    {
        var g = InteractionGraph.CreateBuilder().WithId("x").WithTask("gsm8k").WithQuestion("q").WithGoldAnswer("1")
            .AddNode("a", 0, "r", "1")
            .AddInvalidNode("b", 0, "I cannot answer {{")
            .AddNode(new MagNode("c", 0, "r", "1", null, IsCorrect: true) { IsValid = false })
            .Build();
        Assert.True(g.Nodes[0].IsCorrect);
        Assert.False(g.Nodes[1].IsValid);
        Assert.False(g.Nodes[1].IsCorrect);
        Assert.Equal("I cannot answer {{", g.Nodes[1].RawText);
        Assert.False(g.Nodes[2].IsCorrect);
    }

    [Fact]
    public void Build_ReportsEveryProblemAtOnce()
    {
        var ex = Assert.Throws<InvalidGraphException>(() => InteractionGraph.CreateBuilder()
            .WithTask("no-such-task")
            .AddNode("a", 0, "r", "1", 1.5)
            .AddNode("a", 0, "r", "1")
            .AddNode("a", 2, "r", "1", -0.1)
            .Build());
        var fields = ex.Problems.Select(p => p.Field).ToList();
        Assert.Contains("id", fields);
        Assert.Contains("task", fields);
        Assert.Contains("question", fields);
        Assert.Contains("gold_answer", fields);
        Assert.Contains("a_output_0.confidence_level", fields);
        Assert.Contains("a_output_2.confidence_level", fields);
        Assert.Contains(ex.Problems, p => p.Reason.Contains("more than one node in round 0"));
        Assert.Contains(ex.Problems, p => p.Reason.Contains("round gap") && p.Reason.Contains("round 1"));
        Assert.Contains(ex.Problems, p => p.Reason.Contains("unknown task 'no-such-task'") && p.Reason.Contains("gsm8k"));
        Assert.Contains("problems", ex.Message);
    }

    [Fact]
    public void Build_HugeRoundNumber_IsARoundGapAndFast()
    {
        var ex = Assert.Throws<InvalidGraphException>(() => InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("1", "gsm8k", "q", "1"))
            .AddNode("a", 0, "r", "1").AddNode("a", int.MaxValue, "r", "1")
            .Build());
        Assert.Contains(ex.Problems, p => p.Field == "round 1");
    }

    [Fact]
    public void Build_EmptyGraph_IsRejected()
    {
        var ex = Assert.Throws<InvalidGraphException>(() => InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("1", "gsm8k", "q", "1")).Build());
        Assert.Equal("nodes", Assert.Single(ex.Problems).Field);
    }

    [Fact]
    public void Build_AgentSkippingARound_IsARoundGap()
    {
        var ex = Assert.Throws<InvalidGraphException>(() => InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("1", "gsm8k", "q", "1"))
            .AddNode("a", 0, "r", "1").AddNode("b", 0, "r", "1")
            .AddNode("a", 1, "r", "1").AddNode("a", 2, "r", "1").AddNode("b", 2, "r", "1")
            .Build());
        var p = Assert.Single(ex.Problems);
        Assert.Equal("b_output_2", p.Field);
    }

    [Fact]
    public void Build_NaNConfidenceAndDuplicateAgent_AreRejected()
    {
        var ex = Assert.Throws<InvalidGraphException>(() => InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("1", "gsm8k", "q", "1"))
            .AddAgent("a").AddAgent("a").AddAgent(" ")
            .AddNode("a", 0, "r", "1", double.NaN)
            .Build());
        Assert.Equal(3, ex.Problems.Count);
    }

    [Fact]
    public void Builder_AcceptsUnregisteredTaskInstance()
    {
        var task = new FreeTextTask("my-capitals");
        var g = InteractionGraph.CreateBuilder().WithId("1").WithTask(task).WithQuestion("Capital of France?").WithGoldAnswer("Paris")
            .AddNode("a", 0, "r", "paris.").Build();
        Assert.Equal("my-capitals", g.Task);
        Assert.True(g.Nodes[0].IsCorrect);
    }

    [Fact]
    public void ToQuestion_RoundTripsQuestion()
    {
        var q = new Question("7", "commonsenseqa", "Where?", [new("A", "bank"), new("B", "river")], "A");
        var g = InteractionGraph.CreateBuilder().ForQuestion(q).AddNode("a", 0, "r", "(A)").Build();
        Assert.Equal(q, g.ToQuestion());
        Assert.True(g.Nodes[0].IsCorrect);
    }
}

public class JsonLinesReaderTests
{
    private static async Task<List<MagDi.Tasks.JsonLine>> Lines(byte[] bytes, int max)
    {
        var list = new List<MagDi.Tasks.JsonLine>();
        await foreach (var l in MagDi.Tasks.JsonLinesReader.ReadLinesAsync(new MemoryStream(bytes), max))
        {
            list.Add(l);
        }

        return list;
    }

    [Fact]
    public async Task SplitsLinesAcrossBufferBoundaries_AndFlagsOverlongLines()
    {
        var longLine = new string('x', 150_000);
        var text = "a\r\n" + longLine + "\n" + new string('y', 70_000) + "\n\nlast";
        var lines = await Lines(System.Text.Encoding.UTF8.GetBytes(text), 100_000);
        Assert.Equal([1, 2, 3, 4, 5], lines.Select(l => l.Number));
        Assert.Equal("a", System.Text.Encoding.UTF8.GetString(lines[0].Utf8.Span));
        Assert.True(lines[1].TooLong);
        Assert.False(lines[2].TooLong);
        Assert.Equal(70_000, lines[2].Utf8.Length);
        Assert.True(lines[3].IsBlank);
        Assert.Equal("last", System.Text.Encoding.UTF8.GetString(lines[4].Utf8.Span));
        Assert.All(lines, l => Assert.True(l.IsValidUtf8));
    }

    [Fact]
    public async Task FlagsInvalidUtf8PerLine()
    {
        var lines = await Lines([(byte)'o', (byte)'k', (byte)'\n', 0xC3, 0x28, (byte)'\n'], 10);
        Assert.True(lines[0].IsValidUtf8);
        Assert.False(lines[1].IsValidUtf8);
        Assert.Equal(2, MagDi.Tasks.JsonLinesReader.FirstInvalidUtf8Line([(byte)'o', (byte)'\n', 0xFF]));
        Assert.Null(MagDi.Tasks.JsonLinesReader.FirstInvalidUtf8Line("fine\nlines"u8));
    }
}
