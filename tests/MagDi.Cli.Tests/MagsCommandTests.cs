using System.Text.Json;
using System.Xml.Linq;
using MagDi.Cli;
using MagDi.Graphs.IO;

using MagDi.Graphs.Tests;

namespace MagDi.Cli.Tests;

/// <summary>The <c>mags</c> verbs and the predictions mode of <c>eval</c>, end to end on files the tests write.</summary>
public sealed class MagsCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await MagDiApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Release() => _dir.Write("SQA_1000.json", SampleMags.ReleasedStrategyQa);

    private async Task<string> Jsonl(int count = 8)
    {
        var path = _dir.File("gsm8k.jsonl");
        await MagFile.WriteJsonlAsync(path, Enumerable.Range(0, count).Select(i => TestGraphs.Gsm8k(i % 4, $"q{i}")));
        return path;
    }

    [Fact]
    public async Task Stats_Json_MatchesLibraryStatistics()
    {
        var (code, output, err) = await Run("mags", "stats", "--in", Release(), "--json");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(2, doc.RootElement.GetProperty("graphs").GetInt32());
        Assert.Equal(9, doc.RootElement.GetProperty("nodes").GetInt32());
        Assert.Equal(8, doc.RootElement.GetProperty("correct").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("graph_types").GetArrayLength());
    }

    [Fact]
    public async Task Stats_Tables_ForJsonlWithExplicitFormat()
    {
        var (code, output, _) = await Run("mags", "stats", "--in", await Jsonl(), "--format", "jsonl");
        Assert.Equal(0, code);
        Assert.Contains("8 graphs, 60 nodes", output);
        Assert.Contains("Nodes per round", output);
        Assert.Contains("claude", output);
        Assert.Contains("G3", output);
    }

    [Fact]
    public async Task Convert_ReleaseToJsonl_RoundTrips()
    {
        var output = _dir.File("out.jsonl");
        var (code, stdout, _) = await Run("mags", "convert", "--in", Release(), "--out", output, "--remove-agreement");
        Assert.Equal(0, code);
        Assert.Contains("Converted 2 graph(s)", stdout);
        var read = await MagFile.ReadAsync(output);
        Assert.Equal(["strategyqa-0", "strategyqa-1"], read.Graphs.Select(g => g.Id));
        Assert.Equal("Gestation is 11 months, so no.", read.Graphs[0].Nodes[3].Reasoning);
    }

    [Fact]
    public async Task Convert_WithTaskOverride_ForUnnamedReleaseFile()
    {
        var input = _dir.Write("mags.json", SampleMags.ReleasedStrategyQa);
        var output = _dir.File("out.jsonl");
        var (code, _, err) = await Run("mags", "convert", "--in", input, "--out", output);
        Assert.Equal(2, code);
        Assert.Contains("cannot be inferred", err);
        Assert.False(File.Exists(output));
        Assert.Equal(0, (await Run("mags", "convert", "--in", input, "--out", output, "--task", "sqa")).Code);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task Render_ByIndexAndById_WritesSvg()
    {
        var input = await Jsonl();
        var svg = _dir.File("g.svg");
        var (code, stdout, _) = await Run("mags", "render", "--in", input, "--index", "3", "--out", svg);
        Assert.Equal(0, code);
        Assert.Contains("q3 (G3, 12 nodes)", stdout);
        var doc = XDocument.Load(svg);
        Assert.Equal(12, doc.Descendants().Count(e => (string?)e.Attribute("class") == "node"));
        Assert.Equal(27, doc.Descendants().Count(e => (string?)e.Attribute("class") == "edge"));

        Assert.Equal(0, (await Run("mags", "render", "--in", input, "--id", "q1", "--out", svg)).Code);
        Assert.Equal(6, XDocument.Load(svg).Descendants().Count(e => (string?)e.Attribute("class") == "node"));
    }

    [Fact]
    public async Task Report_WritesHtml()
    {
        var html = _dir.File("report.html");
        var (code, _, _) = await Run("mags", "report", "--in", await Jsonl(12), "--out", html, "--examples", "3");
        Assert.Equal(0, code);
        var text = await File.ReadAllTextAsync(html);
        Assert.Contains("<table id=\"rounds\">", text);
        Assert.Equal(3, text.Split("<svg ").Length - 1);
    }

    [Fact]
    public async Task Eval_Json_PrintsTaskCountCorrectAccuracy()
    {
        var test = _dir.Write("test.jsonl", """
        {"question": "1+1?", "answer": "1+1=2\n#### 2"}
        {"question": "2+2?", "answer": "#### 4"}
        {"question": "3+3?", "answer": "#### 6"}
        {"question": "4+4?", "answer": "#### 8"}
        """);
        var pred = _dir.Write("pred.jsonl", """
        {"id": "gsm8k-0", "prediction": "1 + 1 = 2. So the answer is 2."}
        {"id": "gsm8k-1", "prediction": "The answer is $4.00."}
        {"id": "gsm8k-2", "prediction": "I think it is 7."}
        {"id": "gsm8k-3", "answer": "8"}
        """);
        var (code, output, _) = await Run("eval", "--task", "gsm8k", "--test", test, "--predictions", pred, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("gsm8k", doc.RootElement.GetProperty("task").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("count").GetInt32());
        Assert.Equal(3, doc.RootElement.GetProperty("correct").GetInt32());
        Assert.Equal(0.75, doc.RootElement.GetProperty("accuracy").GetDouble());
        Assert.Equal(["task", "count", "correct", "accuracy"], doc.RootElement.EnumerateObject().Select(p => p.Name));

        var (code2, text, _) = await Run("eval", "--task", "gsm8k", "--test", test, "--predictions", pred);
        Assert.Equal(0, code2);
        Assert.Contains("3/4 correct", text);
    }

    public static TheoryData<string[], string> BadInvocations => new()
    {
        { ["mags", "stats"], "--in is required" },
        { ["mags", "stats", "--in", "/no/such/file.json"], "file not found" },
        { ["mags", "stats", "--in", "x.json", "--format", "xml"], "--format must be" },
        { ["mags", "stats", "--in", "x.json", "--task", "chess"], "Unknown task 'chess'" },
        { ["mags", "stats", "--in", "x.json", "--bogus"], "bogus" },
        { ["mags", "render", "--in", "x.json", "--out", "g.svg"], "exactly one of --index and --id" },
        { ["mags", "render", "--in", "x.json", "--index", "1", "--id", "a", "--out", "g.svg"], "exactly one of --index and --id" },
        { ["mags", "convert", "--in", "x.json"], "--out is required" },
        { ["eval", "--task", "gsm8k"], "are required" },
        { ["eval", "--task", "chess", "--test", "a", "--predictions", "b"], "Unknown task" },
        { ["nonsense"], "nonsense" },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public async Task BadArguments_ExitWith2AndErrorOnStderr(string[] args, string message)
    {
        var (code, _, err) = await Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public async Task BadData_ExitWith2_NamingFileLineAndField()
    {
        var bad = _dir.Write("bad.jsonl", MagJsonl.Serialize(TestGraphs.Gsm8k(0, "a")) + "\n" + MagJsonl.Serialize(TestGraphs.Gsm8k(0, "b")).Replace("\"confidence\":0.5", "\"confidence\":7") + "\n");
        var (code, _, err) = await Run("mags", "stats", "--in", bad);
        Assert.Equal(2, code);
        Assert.Contains("bad.jsonl:line 2", err);
        Assert.Contains("confidence", err);

        var (code2, output, err2) = await Run("mags", "stats", "--in", bad, "--skip-invalid", "--json");
        Assert.Equal(0, code2);
        Assert.Contains("skipped 1 invalid record", err2);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(1, doc.RootElement.GetProperty("graphs").GetInt32());
    }

    [Fact]
    public async Task Render_MissingGraph_ExitWith2()
    {
        var (code, _, err) = await Run("mags", "render", "--in", await Jsonl(2), "--id", "zz", "--out", _dir.File("g.svg"));
        Assert.Equal(2, code);
        Assert.Contains("no graph with id 'zz'", err);
    }
}
