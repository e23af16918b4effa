using System.Xml.Linq;
using MagDi.Graphs;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

public class RenderingTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static List<XElement> ByClass(XDocument doc, string name, string cls) =>
        doc.Descendants(Svg + name).Where(e => (string?)e.Attribute("class") == cls).ToList();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Render_IsWellFormedWithOneElementPerNodeAndEdge(int k)
    {
        var g = TestGraphs.Gsm8k(k);
        var doc = XDocument.Parse(MagSvgRenderer.Render(g));
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        var nodes = ByClass(doc, "g", "node");
        Assert.Equal(g.Nodes.Count, nodes.Count);
        Assert.Equal(g.Edges.Count, ByClass(doc, "path", "edge").Count);
        for (var i = 0; i < nodes.Count; i++)
        {
            var n = g.Nodes[i];
            Assert.Equal(n.Agent, (string?)nodes[i].Attribute("data-agent"));
            Assert.Equal(n.Round.ToString(), (string?)nodes[i].Attribute("data-round"));
            var fill = (string?)nodes[i].Element(Svg + "rect")!.Attribute("fill");
            Assert.Equal(n.IsCorrect ? MagSvgRenderer.CorrectFill : MagSvgRenderer.IncorrectFill, fill);
            Assert.Contains(nodes[i].Descendants(Svg + "text"), t => t.Value == $"Answer: {n.Answer}");
            Assert.Contains(nodes[i].Descendants(Svg + "text"), t => t.Value.StartsWith($"Confidence: {n.Confidence!.Value:0.00}"));
        }

        // Agents by row, rounds by column.
        double X(XElement node) => double.Parse((string)node.Element(Svg + "rect")!.Attribute("x")!, System.Globalization.CultureInfo.InvariantCulture);
        double Y(XElement node) => double.Parse((string)node.Element(Svg + "rect")!.Attribute("y")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.All(nodes.Where(n => (string?)n.Attribute("data-agent") == "claude"), n => Assert.Equal(Y(nodes[0]), Y(n)));
        Assert.All(nodes.Where(n => (string?)n.Attribute("data-round") == "0"), n => Assert.Equal(X(nodes[0]), X(n)));
        Assert.Equal(k + 1, doc.Descendants(Svg + "text").Count(t => (string?)t.Attribute("class") == "round-label"));
        Assert.Equal(3, doc.Descendants(Svg + "text").Count(t => (string?)t.Attribute("class") == "agent-label"));
    }

    [Fact]
    public void Render_EscapesHostileTextAndMarksInvalidNodes()
    {
        var g = InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("<&>", "math", "Is \"x < y\" & y > z? \u0001 \ud800", "\\frac{1}{2}"))
            .AddNode("a<b>", 0, "Use <script>alert('x')</script> & more", "0.5", 0.25)
            .AddInvalidNode("c", 0, "]]> raw")
            .WithPattern(InteractionPattern.FullyConnected)
            .Build();
        var svg = MagSvgRenderer.Render(g);
        var doc = XDocument.Parse(svg);
        Assert.DoesNotContain("<script>", svg);
        var nodes = ByClass(doc, "g", "node");
        Assert.Equal("true", (string?)nodes[0].Attribute("data-correct"));
        Assert.Equal(MagSvgRenderer.InvalidFill, (string?)nodes[1].Element(Svg + "rect")!.Attribute("fill"));
        Assert.Equal("5 3", (string?)nodes[1].Element(Svg + "rect")!.Attribute("stroke-dasharray"));
        Assert.Equal(2, ByClass(doc, "path", "edge").Count);
    }

    [Fact]
    public void Render_AllPatterns_ProduceValidSvg()
    {
        foreach (var p in InteractionPattern.BuiltIns)
        {
            var g = TestGraphs.Gsm8k(2, pattern: p);
            var doc = XDocument.Parse(MagSvgRenderer.Render(g, new MagRenderOptions { ReasoningLines = 0 }));
            Assert.Equal(g.Edges.Count, ByClass(doc, "path", "edge").Count);
        }
    }

    [Fact]
    public void Wrap_LimitsLinesAndAddsEllipsis()
    {
        var lines = MagSvgRenderer.Wrap("one two three four five six seven eight nine ten", 10, 2);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.True(l.Length <= 10, l));
        Assert.EndsWith("…", lines[^1]);
        Assert.Empty(MagSvgRenderer.Wrap("text", 10, 0));
    }

    [Fact]
    public void HtmlReport_HasTablesAndOneSvgPerExample()
    {
        var graphs = Enumerable.Range(0, 12).Select(i => TestGraphs.Gsm8k(i % 4, $"q{i}")).ToList();
        var examples = MagHtmlReport.PickExamples(graphs, 4);
        Assert.Equal([0, 1, 2, 3], examples.Select(g => g.InteractionRounds));
        var html = MagHtmlReport.Render(MagStatistics.Compute(graphs), examples, "GSM8K <MAGs>");
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("GSM8K &lt;MAGs&gt;", html);
        Assert.Contains("<table id=\"rounds\">", html);
        Assert.Contains("<table id=\"agents\">", html);
        Assert.Contains("<table id=\"graph-types\">", html);
        Assert.Equal(4, html.Split("<svg ").Length - 1);
        // Every embedded SVG is well-formed on its own.
        foreach (var part in html.Split("<svg ").Skip(1))
        {
            XDocument.Parse("<svg " + part[..(part.IndexOf("</svg>", StringComparison.Ordinal) + 6)]);
        }
    }
}
