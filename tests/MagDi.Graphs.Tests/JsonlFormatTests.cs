using System.Text;
using MagDi.Graphs.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

public class JsonlFormatTests
{
    private static InteractionGraph RichGraph()
    {
        var custom = InteractionPattern.Custom("star", s => Enumerable.Range(1, s.NodeCount - 1).Select(i => (0, i)));
        return InteractionGraph.CreateBuilder()
            .ForQuestion(new Question("csqa-7", "commonsenseqa", "Where do you keep \"money\"?\nThink ✓ 🙂.", [new("A", "bank"), new("B", "river")], "A"))
            .AddAgent("claude").AddAgent("gpt4")
            .AddNode("claude", 0, "Banks hold money.\tTabs and\nnewlines.", "(A)", 0.1 + 0.2)
            .AddNode("gpt4", 0, "Rivers?", "B", null)
            .AddInvalidNode("claude", 1, "{not json")
            .AddNode("gpt4", 1, "Bank.", "A", 1.0, isCorrect: false)
            .WithPattern(custom)
            .Build();
    }

    private static void AssertSame(InteractionGraph a, InteractionGraph b)
    {
        Assert.Equal(a.Id, b.Id);
        Assert.Equal(a.Task, b.Task);
        Assert.Equal(a.Question, b.Question);
        Assert.Equal(a.Choices, b.Choices);
        Assert.Equal(a.GoldAnswer, b.GoldAnswer);
        Assert.Equal(a.Agents, b.Agents);
        Assert.Equal(a.Nodes, b.Nodes);
        Assert.Equal(a.Pattern.Name, b.Pattern.Name);
        Assert.Equal(a.Edges.Pairs, b.Edges.Pairs);
    }

    [Fact]
    public void SerializeThenParse_IsLossless()
    {
        var g = RichGraph();
        var line = MagJsonl.Serialize(g);
        Assert.DoesNotContain('\n', line);
        var back = MagJsonl.Parse(line);
        AssertSame(g, back);
        Assert.Equal(line, MagJsonl.Serialize(back));
        Assert.False(back.Nodes[3].IsCorrect); // explicit label kept, not recomputed
        Assert.Equal(0.1 + 0.2, back.Nodes[0].Confidence);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void SerializeThenParse_BuiltInPatterns(int k)
    {
        foreach (var p in InteractionPattern.BuiltIns)
        {
            var g = TestGraphs.Gsm8k(k, pattern: p);
            var back = MagJsonl.Parse(MagJsonl.Serialize(g));
            AssertSame(g, back);
            Assert.Same(p, back.Pattern);
            Assert.DoesNotContain("\"edges\"", MagJsonl.Serialize(g));
        }
    }

    [Fact]
    public async Task WriteAsync_ThenReadAsync_StreamsManyGraphs()
    {
        static async IAsyncEnumerable<InteractionGraph> Source()
        {
            for (var i = 0; i < 200; i++)
            {
                await Task.Yield();
                yield return TestGraphs.Gsm8k(i % 4, $"q{i}");
            }
        }

        using var ms = new MemoryStream();
        Assert.Equal(200, await MagJsonl.WriteAsync(ms, Source()));
        ms.Position = 0;
        var report = new ReadReport();
        var ids = new List<string>();
        await foreach (var g in MagJsonl.ReadAsync(ms, null, report))
        {
            ids.Add(g.Id);
        }

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"q{i}"), ids);
        Assert.Equal(200, report.RecordsRead);
    }

    [Fact]
    public async Task MagJsonlWriter_AppendsAndFlushesEachGraph()
    {
        using var dir = new TempDir();
        var path = dir.File("out.jsonl");
        await using (var w = MagJsonlWriter.AppendToFile(path))
        {
            await w.WriteAsync(TestGraphs.Gsm8k(0, "a"));
            Assert.Single(File.ReadAllLines(path)); // visible before dispose
        }

        await using (var w = MagJsonlWriter.AppendToFile(path))
        {
            await w.WriteAsync(TestGraphs.Gsm8k(1, "b"));
        }

        var result = await MagFile.ReadAsync(path);
        Assert.Equal(["a", "b"], result.Graphs.Select(g => g.Id));
        Assert.Equal(MagFormat.Jsonl, result.Format);
    }

    private static async Task<(List<InteractionGraph> Graphs, ReadReport Report)> ReadAll(byte[] content, MagReadOptions? options = null)
    {
        var report = new ReadReport();
        var list = new List<InteractionGraph>();
        await foreach (var g in MagJsonl.ReadAsync(new MemoryStream(content), options, report, "mags.jsonl"))
        {
            list.Add(g);
        }

        return (list, report);
    }

    private static string Good(string id) => MagJsonl.Serialize(TestGraphs.Gsm8k(1, id));

    public static TheoryData<string, string?, string> BadLines => new()
    {
        { "{\"id\": \"x\",", null, "malformed JSON" },
        { "[1, 2]", null, "expected a JSON object" },
        { Good("x").Replace("\"task\":\"gsm8k\"", "\"task\":\"chess\""), "task", "unknown task 'chess'" },
        { Good("x").Replace("\"id\":\"x\",", ""), "id", "missing" },
        { Good("x").Replace("\"round\":1", "\"round\":\"1\""), "nodes[3].round", "expected an integer" },
        { Good("x").Replace("\"round\":1", "\"round\":2"), "round 1", "round gap" },
        { Good("x").Replace("\"confidence\":0.5", "\"confidence\":2"), "claude_output_0.confidence_level", "outside [0, 1]" },
        { Good("x").Replace("\"agent\":\"gpt4\",\"round\":1", "\"agent\":\"claude\",\"round\":1"), "claude_output_1", "more than one node" },
        { Good("x").Replace("\"correct\":true", "\"correct\":\"yes\""), "nodes[0].correct", "expected a boolean" },
        { Good("x").Replace("\"confidence\":0.5", "\"confidence\":1e400"), "claude_output_0.confidence_level", "outside [0, 1]" },
        { Good("x").Replace("\"confidence\":0.5", "\"confidence\":\"0.5x\""), "nodes[0].confidence", "expected a number" },
        { Good("x").Replace("\"pattern\":\"reconcile\"", "\"pattern\":\"spiral\""), "pattern", "unknown pattern" },
        { """{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[]}""", "nodes", "empty" },
        { """{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","pattern":"p","edges":[[0,5]],"nodes":[{"agent":"a","round":0,"reasoning":"r","answer":"1"}]}""", "edges", "target 5" },
        { """{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","pattern":"p","edges":[[0]],"nodes":[{"agent":"a","round":0,"reasoning":"r","answer":"1"}]}""", "edges[0]", "pair" },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public async Task ReadAsync_BadLine_FailsFastWithLineFieldAndReason(string bad, string? field, string reason)
    {
        var content = Encoding.UTF8.GetBytes(Good("a") + "\n\n" + bad + "\n" + Good("b") + "\n");
        var ex = await Assert.ThrowsAsync<MagDataException>(() => ReadAll(content));
        Assert.Equal("mags.jsonl", ex.File);
        Assert.Equal(3, ex.Line);
        Assert.Equal(1, ex.Element);
        Assert.Equal(field, ex.Field);
        Assert.Contains(reason, ex.Reason);
    }

    [Fact]
    public async Task ReadAsync_SkipInvalid_ListsEveryBadLineAndKeepsTheRest()
    {
        var lines = new List<byte[]>
        {
            Encoding.UTF8.GetBytes(Good("a")),
            Encoding.UTF8.GetBytes("{oops"),
            Encoding.UTF8.GetBytes(Good("c")[..20]).Append((byte)0xFF).Concat(Encoding.UTF8.GetBytes(Good("c")[20..])).ToArray(),
            Encoding.UTF8.GetBytes(Good("d").Replace("\"question\":\"What is 6 * 7?\"", "\"question\":\"" + new string('q', 300) + "\"")),
            Encoding.UTF8.GetBytes(Good("e")),
            Encoding.UTF8.GetBytes(new string(' ', 10) + "{" + new string('x', 5000) + "}"),
            Encoding.UTF8.GetBytes(Good("f")),
        };
        var content = lines.SelectMany(l => l.Concat(new[] { (byte)'\n' })).ToArray();
        var (graphs, report) = await ReadAll(content, new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid, MaxTextLength = 200, MaxRecordBytes = 4000 });
        Assert.Equal(["a", "e", "f"], graphs.Select(g => g.Id));
        Assert.Equal([2, 3, 4, 6], report.Skipped.Select(e => e.Line!.Value));
        Assert.Contains("malformed JSON", report.Skipped[0].Reason);
        Assert.Equal("invalid UTF-8", report.Skipped[1].Reason);
        Assert.Contains("over the limit of 200", report.Skipped[2].Reason);
        Assert.Contains("over the limit of 4000 bytes", report.Skipped[3].Reason);
        Assert.Equal(3, report.RecordsRead);
    }

    [Fact]
    public async Task StreamAsync_SkipModeWithoutReport_IsRejected()
    {
        using var dir = new TempDir();
        var path = dir.Write("SQA_1.json", SampleMags.ReleasedStrategyQa);
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var item in MagFile.StreamAsync(path, new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid }))
            {
            }
        });
    }

    [Fact]
    public async Task ReadAsync_SkipModeWithoutReport_IsRejected()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var item in MagJsonl.ReadAsync(new MemoryStream(), new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid }))
            {
            }
        });
    }

    [Fact]
    public async Task ReadAsync_HandlesBomCrLfAndMissingFinalNewline()
    {
        var content = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(Good("a") + "\r\n" + Good("b"))).ToArray();
        var (graphs, _) = await ReadAll(content);
        Assert.Equal(["a", "b"], graphs.Select(g => g.Id));
    }

    [Fact]
    public async Task ReadAsync_TaskFromOptions_WhenRecordHasNone()
    {
        var line = Good("a").Replace("\"task\":\"gsm8k\",", "");
        await Assert.ThrowsAsync<MagDataException>(() => ReadAll(Encoding.UTF8.GetBytes(line)));
        var (graphs, _) = await ReadAll(Encoding.UTF8.GetBytes(line), new MagReadOptions { Task = "svamp" });
        Assert.Equal("svamp", graphs[0].Task);
    }

    [Fact]
    public async Task MagFile_DetectsFormats_AndConvertsReleaseToJsonlLosslessly()
    {
        using var dir = new TempDir();
        var release = dir.Write("SQA_1000.json", SampleMags.ReleasedStrategyQa);
        Assert.Equal(MagFormat.MagdiRelease, MagFile.DetectFormat(release));
        var read = await MagFile.ReadAsync(release);
        var jsonl = dir.File("sqa.jsonl");
        await MagFile.WriteJsonlAsync(jsonl, read.Graphs);
        Assert.Equal(MagFormat.Jsonl, MagFile.DetectFormat(jsonl));
        var again = await MagFile.ReadAsync(jsonl);
        Assert.Equal(read.Graphs.Select(MagJsonl.Serialize), again.Graphs.Select(MagJsonl.Serialize));

        var streamed = new List<InteractionGraph>();
        await foreach (var g in MagFile.StreamAsync(release))
        {
            streamed.Add(g);
        }

        Assert.Equal(2, streamed.Count);
        Assert.Contains("empty", Assert.Throws<MagDataException>(() => MagFile.DetectFormat(dir.Write("e.json", "  \n"))).Reason);
        Assert.Contains("not a MAG file", Assert.Throws<MagDataException>(() => MagFile.DetectFormat(dir.Write("x.json", "hello"))).Reason);
        Assert.Contains("not found", Assert.Throws<MagDataException>(() => MagFile.DetectFormat(dir.File("missing.json"))).Reason);
    }
}
