using System.Text;
using MagDi.Graphs.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

public class ReleasedFormatTests
{
    private static MagReadResult Read(string json, MagReadOptions? options = null, string file = "SQA_1000.json") =>
        MagReleaseFormat.Read(Encoding.UTF8.GetBytes(json), options, file);

    [Fact]
    public void Read_ParsesNodesConfidenceStringsAndCorrectness()
    {
        var result = Read(SampleMags.ReleasedStrategyQa);
        Assert.Equal(2, result.Graphs.Count);
        Assert.Equal(2, result.Report.RecordsRead);
        var g = result.Graphs[0];
        Assert.Equal("strategyqa", g.Task);
        Assert.Equal("strategyqa-0", g.Id);
        Assert.Equal("false", g.GoldAnswer);
        Assert.Equal(["claude", "gpt4", "bard"], g.Agents);
        Assert.Equal(1, g.InteractionRounds);
        Assert.Equal(6, g.Nodes.Count);
        Assert.Equal(0.6, g.Nodes[1].Confidence);
        Assert.Equal(1.0, g.Nodes[5].Confidence);
        Assert.Equal([true, false, true, true, true, true], g.Nodes.Select(n => n.IsCorrect));
        Assert.Equal(9, g.Edges.Count);
        Assert.Equal(0, result.Graphs[1].InteractionRounds);
        Assert.All(result.Graphs[1].Nodes, n => Assert.True(n.IsCorrect));
        Assert.Null(result.Graphs[1].Nodes[0].Confidence);
    }

    [Fact]
    public void Read_KeepsAgreementSentencesByDefault_AndRemovesThemOnRequest()
    {
        Assert.StartsWith("I agree with bard.", Read(SampleMags.ReleasedStrategyQa).Graphs[0].Nodes[3].Reasoning);
        var cleaned = Read(SampleMags.ReleasedStrategyQa, new MagReadOptions { RemoveAgreementSentences = true }).Graphs[0];
        Assert.Equal("Gestation is 11 months, so no.", cleaned.Nodes[3].Reasoning);
        Assert.Equal("Two births take too long.", cleaned.Nodes[4].Reasoning);
    }

    [Theory]
    [InlineData("SQA_1000.json", "strategyqa")]
    [InlineData("ECQA_1000.json", "commonsenseqa")]
    [InlineData("ARC_1000.json", "arc")]
    [InlineData("GSM8K_1000.json", "gsm8k")]
    [InlineData("/data/MAG/MATH_1000.json", "math")]
    [InlineData("mags.json", null)]
    public void InferTask_FromReleasedFileNames(string file, string? task) =>
        Assert.Equal(task, MagReleaseFormat.InferTask(file)?.Name);

    [Fact]
    public void Read_WithoutInferableTask_FailsWithHint()
    {
        var ex = Assert.Throws<MagDataException>(() => Read(SampleMags.ReleasedStrategyQa, file: "mags.json"));
        Assert.Equal("task", ex.Field);
        Assert.Contains("pass the task", ex.Reason);
        Assert.Equal(2, Read(SampleMags.ReleasedStrategyQa, new MagReadOptions { Task = "sqa" }, "mags.json").Graphs.Count);
        Assert.Equal("task", Assert.Throws<MagDataException>(() => Read(SampleMags.ReleasedStrategyQa, new MagReadOptions { Task = "zzz" })).Field);
    }

    public static TheoryData<string, int, string?, string> BadElements => new()
    {
        { """[{"question": "q", "gold_answer": "yes"}]""", 0, "nodes", "empty" },
        { """[{"gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}}]""", 0, "question", "missing" },
        { """[{"question": 5, "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}}]""", 0, "question", "expected a string" },
        { """[{"question": "q", "a_output_0": {"reasoning": "r", "answer": "yes"}}]""", 0, "gold_answer", "missing" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"answer": "yes"}}]""", 0, "a_output_0.reasoning", "missing" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": "yes"}]""", 0, "a_output_0", "expected a JSON object" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes", "confidence_level": 1.5}}]""", 0, "a_output_0.confidence_level", "outside [0, 1]" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes", "confidence_level": "high"}}]""", 0, "a_output_0.confidence_level", "expected a number" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}, "a_output_2": {"reasoning": "r", "answer": "yes"}}]""", 0, "round 1", "round gap" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": ["yes"]}}]""", 0, "a_output_0.answer", "expected a string, number or boolean" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}, "a_output_0": {"reasoning": "r", "answer": "no"}}]""", 0, "a_output_0", "more than one node" },
        { """[{"question": "q", "gold_answer": "yes", "a_output_99999999999": {"reasoning": "r", "answer": "yes"}}]""", 0, "a_output_99999999999", "too large" },
        { """[3]""", 0, null, "expected a JSON object" },
    };

    [Theory]
    [MemberData(nameof(BadElements))]
    public void Read_BadElement_FailsFastWithElementFieldAndReason(string json, int element, string? field, string reason)
    {
        var ex = Assert.Throws<MagDataException>(() => Read(json));
        Assert.Equal("SQA_1000.json", ex.File);
        Assert.Equal(element, ex.Element);
        Assert.Equal(field, ex.Field);
        Assert.Contains(reason, ex.Reason);
        Assert.Contains("SQA_1000.json", ex.Message);
    }

    [Fact]
    public void Read_SkipInvalid_ReportsEverySkippedElement()
    {
        const string Json = """
        [
          {"question": "q0", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}},
          {"question": "q1", "gold_answer": "yes"},
          {"question": "q2", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "no", "confidence_level": -1}},
          {"question": "q3", "gold_answer": "no", "a_output_0": {"reasoning": "r", "answer": "no"}}
        ]
        """;
        var result = Read(Json, new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid });
        Assert.Equal(["q0", "q3"], result.Graphs.Select(g => g.Question));
        Assert.Equal([1, 2], result.Report.Skipped.Select(e => e.Element!.Value));
        Assert.Equal([3, 4], result.Report.Skipped.Select(e => e.Line!.Value));
        Assert.StartsWith("SQA_1000.json:line 3 (element 1)", result.Report.Skipped[0].ToString());
        Assert.Equal(2, result.Report.RecordsRead);
        Assert.False(result.Report.IsComplete);
        Assert.Contains("2 skipped", result.Report.ToString());
    }

    [Fact]
    public void Read_MalformedJson_ReportsLine()
    {
        var ex = Assert.Throws<MagDataException>(() => Read("[\n{\"question\": \"q\",\n \"gold_answer\": }\n]"));
        Assert.Equal(3, ex.Line);
        Assert.Contains("malformed JSON", ex.Reason);
        Assert.Throws<MagDataException>(() => Read("[", new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid }));
        Assert.Contains("expected a JSON array", Assert.Throws<MagDataException>(() => Read("{}")).Reason);
    }

    [Fact]
    public void Read_InvalidUtf8_ReportsLine()
    {
        var bytes = Encoding.UTF8.GetBytes("[\n{\"question\": \"q\"}\n]").ToList();
        bytes.InsertRange(16, new byte[] { 0xC3, 0x28 });
        var ex = Assert.Throws<MagDataException>(() => MagReleaseFormat.Read(bytes.ToArray(), null, "SQA.json"));
        Assert.Equal(2, ex.Line);
        Assert.Equal("invalid UTF-8", ex.Reason);
    }

    [Fact]
    public void Read_OverLongText_IsRejected()
    {
        var json = $$$"""[{"question": "{{{new string('x', 50)}}}", "gold_answer": "yes", "a_output_0": {"reasoning": "r", "answer": "yes"}}]""";
        var ex = Assert.Throws<MagDataException>(() => Read(json, new MagReadOptions { MaxTextLength = 20 }));
        Assert.Equal("question", ex.Field);
        Assert.Contains("over the limit of 20", ex.Reason);
    }

    [Fact]
    public async Task Write_ThenRead_PreservesGraphs()
    {
        var graphs = Read(SampleMags.ReleasedStrategyQa).Graphs;
        using var ms = new MemoryStream();
        await MagReleaseFormat.WriteAsync(ms, graphs);
        var again = MagReleaseFormat.Read(ms.ToArray(), null, "SQA.json").Graphs;
        Assert.Equal(graphs.Select(MagJsonl.Serialize), again.Select(MagJsonl.Serialize));
    }
}
