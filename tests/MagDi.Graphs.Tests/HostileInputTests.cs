using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using MagDi.Graphs.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

/// <summary>
/// Hostile inputs for the MAG readers (issue 15): strings holding an unpaired surrogate escape, which System.Text.Json
/// parses but cannot turn into .NET text, and inputs that are not regular files. Each must be a
/// <see cref="MagDataException"/> naming the file, line or element, the field and the reason.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Jsonl_LoneHighSurrogateInAValue_NamesFileLineAndField()
    {
        var good = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "a"));
        var bad = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "b")).Replace("What is 6 * 7?", "What is 6 \\ud800* 7?", StringComparison.Ordinal);
        var path = _dir.Write("mags.jsonl", good + "\n" + bad + "\n");

        var ex = await Assert.ThrowsAsync<MagDataException>(() => MagFile.ReadAsync(path));

        Assert.Equal(path, ex.File);
        Assert.Equal(2, ex.Line);
        Assert.Equal("question", ex.Field);
        Assert.Contains("\\ud800", ex.Reason, StringComparison.Ordinal);
        Assert.Contains("unpaired UTF-16 surrogate", ex.Reason, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_LoneLowSurrogateInANodeField_NamesTheNodePath()
    {
        var line = MagJsonl.Serialize(TestGraphs.Gsm8k(1, "a")).Replace("bard thinks in round 1", "bard \\udc00 thinks in round 1", StringComparison.Ordinal);
        var path = _dir.Write("nodes.jsonl", line + "\n");

        var ex = await Assert.ThrowsAsync<MagDataException>(() => MagFile.ReadAsync(path));

        Assert.Equal(path, ex.File);
        Assert.Equal(1, ex.Line);
        Assert.Equal("nodes[5].reasoning", ex.Field);
        Assert.Contains("\\udc00", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_ReversedSurrogatePair_IsRejectedButAProperPairIsRead()
    {
        var pair = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "a")).Replace("What is", "\\ud83d\\ude00 What is", StringComparison.Ordinal);
        var reversed = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "b")).Replace("What is", "\\ude00\\ud83d What is", StringComparison.Ordinal);
        var ok = _dir.Write("pair.jsonl", pair + "\n");
        var bad = _dir.Write("reversed.jsonl", reversed + "\n");

        var read = await MagFile.ReadAsync(ok);
        var ex = await Assert.ThrowsAsync<MagDataException>(() => MagFile.ReadAsync(bad));

        Assert.StartsWith("\U0001F600 What is", read.Graphs[0].Question, StringComparison.Ordinal);
        Assert.Equal("question", ex.Field);
        Assert.Contains("\\ude00", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_LoneSurrogateInAPropertyName_NamesTheObjectAndSaysPropertyName()
    {
        var line = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "a")).Replace("\"agent\":\"gpt4\"", "\"agent\":\"gpt4\",\"x\\ud800\":1", StringComparison.Ordinal);
        var path = _dir.Write("names.jsonl", line + "\n");

        var ex = await Assert.ThrowsAsync<MagDataException>(() => MagFile.ReadAsync(path));

        Assert.Equal(path, ex.File);
        Assert.Equal(1, ex.Line);
        Assert.Equal("nodes[1]", ex.Field);
        Assert.StartsWith("a property name holds the escape \\ud800", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_SkipMode_SkipsTheBadLineAndReportsIt()
    {
        var bad = MagJsonl.Serialize(TestGraphs.Gsm8k(0, "b")).Replace("What is", "\\ud800", StringComparison.Ordinal);
        var path = _dir.Write("skip.jsonl", MagJsonl.Serialize(TestGraphs.Gsm8k(0, "a")) + "\n" + bad + "\n" + MagJsonl.Serialize(TestGraphs.Gsm8k(0, "c")) + "\n");

        var result = await MagFile.ReadAsync(path, new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid });

        Assert.Equal(["a", "c"], result.Graphs.Select(g => g.Id));
        var skipped = Assert.Single(result.Report.Skipped);
        Assert.Equal((path, 2, "question"), (skipped.File, skipped.Line, skipped.Field));
    }

    [Fact]
    public void Released_LoneSurrogateInANodeValue_NamesElementLineAndField()
    {
        var json = SampleMags.ReleasedStrategyQa.Replace("Still no.", "Still \\ud801 no.", StringComparison.Ordinal);
        var expectedLine = json[..json.IndexOf("Still \\ud801", StringComparison.Ordinal)].Count(c => c == '\n') + 1;

        var ex = Assert.Throws<MagDataException>(() => MagReleaseFormat.Read(Encoding.UTF8.GetBytes(json), fileName: "SQA_1000.json"));

        Assert.Equal("SQA_1000.json", ex.File);
        Assert.Equal(0, ex.Element);
        Assert.Equal(expectedLine, ex.Line);
        Assert.Equal("bard_output_1.reasoning", ex.Field);
        Assert.Contains("\\ud801", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Released_LoneSurrogateInANodeKey_IsSkippedInSkipModeAndTheOtherElementRead()
    {
        var json = SampleMags.ReleasedStrategyQa.Replace("\"gpt4_output_0\": {\"reasoning\": \"Yes.\"", "\"gpt4\\udfff_output_0\": {\"reasoning\": \"Yes.\"", StringComparison.Ordinal);

        var result = MagReleaseFormat.Read(Encoding.UTF8.GetBytes(json), new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid }, "SQA_1000.json");

        Assert.Single(result.Graphs);
        var skipped = Assert.Single(result.Report.Skipped);
        Assert.Equal(("SQA_1000.json", 1), (skipped.File, skipped.Element));
        Assert.StartsWith("a property name holds the escape \\udfff", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Released_RootStringWithALoneSurrogate_IsAMagDataException()
    {
        var ex = Assert.Throws<MagDataException>(() => MagReleaseFormat.Read(Encoding.UTF8.GetBytes("\"\\ud800\""), fileName: "GSM8K.json"));
        Assert.Equal("GSM8K.json", ex.File);
        Assert.Contains("expected a JSON array", ex.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MagFormat.Auto)]
    [InlineData(MagFormat.Jsonl)]
    [InlineData(MagFormat.MagdiRelease)]
    public async Task Fifo_IsRefusedWithoutBlocking(MagFormat format)
    {
        var fifo = _dir.File("SQA_fifo.json");
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        var read = await HostileFiles.CaptureWithoutBlocking(fifo, () => MagFile.ReadAsync(fifo, new MagReadOptions { Format = format }));
        var stream = await HostileFiles.CaptureWithoutBlocking(fifo, async () =>
        {
            await foreach (var _ in MagFile.StreamAsync(fifo, new MagReadOptions { Format = format }))
            {
            }
        });

        foreach (var ex in new[] { read, stream })
        {
            var data = Assert.IsType<MagDataException>(ex);
            Assert.Equal(fifo, data.File);
            Assert.Contains("FIFO", data.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Directory_IsRefusedWithAMagDataException()
    {
        var ex = await Assert.ThrowsAsync<MagDataException>(() => MagFile.ReadAsync(_dir.Path, new MagReadOptions { Format = MagFormat.Jsonl }));
        Assert.Equal(_dir.Path, ex.File);
        Assert.Contains("directory", ex.Reason, StringComparison.Ordinal);
    }

    private static readonly byte[] JsonlSeed = Encoding.UTF8.GetBytes(MagJsonl.Serialize(TestGraphs.Gsm8k(1, "a")));

    /// <summary>Every string token of a JSON document: its content's start offset and whether it is a property name.</summary>
    private static List<(int Start, bool IsName)> StringTokens(byte[] json)
    {
        var result = new List<(int, bool)>();
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
            {
                result.Add(((int)reader.TokenStartIndex + 1, reader.TokenType == JsonTokenType.PropertyName));
            }
        }

        return result;
    }

    [Fact]
    public void Jsonl_AnyUnpairedSurrogateEscapeInAnyString_IsAMagDataExceptionNamingFileLineAndReason()
    {
        var tokens = StringTokens(JsonlSeed);
        Gen.Select(Gen.Int[0, tokens.Count - 1], Gen.Int[0xD800, 0xDFFF], Gen.Bool).Sample((t, unit, twice) =>
        {
            var (start, isName) = tokens[t];
            var escape = "\\u" + unit.ToString("x4", CultureInfo.InvariantCulture);
            // Two high surrogates in a row are still unpaired; a high surrogate followed by a low one would be a valid pair.
            var inserted = twice && unit < 0xDC00 ? escape + escape : escape;
            var bytes = JsonlSeed[..start].Concat(Encoding.ASCII.GetBytes(inserted)).Concat(JsonlSeed[start..]).ToArray();

            var ex = Assert.Throws<MagDataException>(() => MagJsonl.ReadAsync(new MemoryStream(bytes), fileName: "fuzz.jsonl").ToBlockingEnumerable().ToList());

            Assert.Equal(("fuzz.jsonl", 1), (ex.File, ex.Line));
            Assert.Contains(escape, ex.Reason, StringComparison.Ordinal);
            Assert.Contains("unpaired UTF-16 surrogate", ex.Reason, StringComparison.Ordinal);
            Assert.Equal(isName, ex.Reason.StartsWith("a property name", StringComparison.Ordinal));
            if (!isName)
            {
                Assert.False(string.IsNullOrEmpty(ex.Field));
            }
        }, iter: 400);
    }

    [Fact]
    public void Released_AnyUnpairedSurrogateEscapeInAnyString_IsAMagDataExceptionNamingElementAndReason()
    {
        var seed = Encoding.UTF8.GetBytes(SampleMags.ReleasedStrategyQa);
        var tokens = StringTokens(seed);
        Gen.Select(Gen.Int[0, tokens.Count - 1], Gen.Int[0xD800, 0xDFFF]).Sample((t, unit) =>
        {
            var (start, isName) = tokens[t];
            var escape = "\\u" + unit.ToString("x4", CultureInfo.InvariantCulture);
            var bytes = seed[..start].Concat(Encoding.ASCII.GetBytes(escape)).Concat(seed[start..]).ToArray();
            var line = seed[..start].Count(b => b == (byte)'\n') + 1;

            var ex = Assert.Throws<MagDataException>(() => MagReleaseFormat.Read(bytes, fileName: "SQA_1000.json"));

            Assert.Equal(("SQA_1000.json", line), (ex.File, ex.Line));
            Assert.NotNull(ex.Element);
            Assert.Contains(escape, ex.Reason, StringComparison.Ordinal);
            Assert.Equal(isName, ex.Reason.StartsWith("a property name", StringComparison.Ordinal));
        }, iter: 400);
    }
}
