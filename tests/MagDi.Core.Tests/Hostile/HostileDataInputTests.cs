using System.Text;
using MagDi.IO;
using MagDi.Tasks;
using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Hostile inputs for the benchmark and predictions readers (the <c>tokenize --in</c> reader's are in MagDi.Cli.Tests) and for <see cref="InputFile"/>
/// (issue 15): unpaired surrogate escapes, invalid UTF-8 and files that are not regular files. Each is an exception of
/// the documented type whose message names the file, the line or element and the field.
/// </summary>
public sealed class HostileDataInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content) => Write(name, Encoding.UTF8.GetBytes(content));

    private string Write(string name, byte[] content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Theory]
    [InlineData("test.jsonl", "{\"question\":\"ok?\",\"answer\":\"a\\n#### 1\"}\n{\"question\":\"bad \\ud800?\",\"answer\":\"b\\n#### 2\"}\n", 2, null)]
    [InlineData("test.json", "[{\"question\":\"ok?\",\"answer\":\"a\\n#### 1\"},{\"question\":\"bad \\ud800?\",\"answer\":\"b\\n#### 2\"}]", null, 1)]
    [InlineData("one.json", "{\"question\":\"bad \\ud800?\",\"answer\":\"b\\n#### 2\"}", 1, 0)]
    public async Task Benchmark_LoneSurrogate_IsAMagDataExceptionNamingFileLineOrElementAndField(string name, string content, int? line, int? element)
    {
        string path = Write(name, content);

        var ex = await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(path, "gsm8k"));

        Assert.Equal(path, ex.File);
        Assert.Equal("question", ex.Field);
        Assert.Contains("\\ud800", ex.Reason, StringComparison.Ordinal);
        Assert.Contains("unpaired UTF-16 surrogate", ex.Reason, StringComparison.Ordinal);
        if (line is not null)
        {
            Assert.Equal(line, ex.Line);
        }

        if (element is not null)
        {
            Assert.Equal(element, ex.Element);
        }
    }

    [Fact]
    public async Task Benchmark_LoneSurrogateInAnUnreadPropertyName_IsStillRejected()
    {
        // Whether a lookup trips over such a name depends on the names' lengths; the reader rejects it either way.
        string path = Write("names.jsonl", "{\"question\":\"q?\",\"answer\":\"a\\n#### 1\",\"x\\udc00\":0}\n");

        var ex = await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(path, "gsm8k"));

        Assert.Equal((path, 1), (ex.File, ex.Line));
        Assert.StartsWith("a property name holds the escape \\udc00", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Benchmark_SkipMode_SkipsOnlyTheRecordWithTheLoneSurrogate()
    {
        string path = Write("skip.jsonl", "{\"question\":\"a?\",\"answer\":\"#### 1\"}\n{\"question\":\"\\ud800\",\"answer\":\"#### 2\"}\n{\"question\":\"c?\",\"answer\":\"#### 3\"}\n");

        var data = await BenchmarkReader.ReadAsync(path, "gsm8k", new DataReadOptions { ErrorMode = ReadErrorMode.SkipInvalid });

        Assert.Equal(["1", "3"], data.Questions.Select(q => q.GoldAnswer));
        Assert.Equal((path, 2, "question"), (data.Report.Skipped[0].File, data.Report.Skipped[0].Line, data.Report.Skipped[0].Field));
    }

    [Fact]
    public async Task Predictions_LoneSurrogate_IsAMagDataExceptionNamingFileLineAndField()
    {
        string path = Write("pred.jsonl", "{\"id\":\"1\",\"prediction\":\"ok\"}\n{\"id\":\"2\",\"prediction\":\"the answer is \\udbff\"}\n");

        var ex = await Assert.ThrowsAsync<MagDataException>(() => Scoring.ReadPredictionsAsync(path));

        Assert.Equal((path, 2, "prediction"), (ex.File, ex.Line, ex.Field));
        Assert.Contains("\\udbff", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifo_IsRefusedWithoutBlockingByEveryDataReader()
    {
        string fifo = Path.Combine(_dir, "input.jsonl");
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        var benchmark = await HostileFiles.CaptureWithoutBlocking(fifo, () => BenchmarkReader.ReadAsync(fifo, "gsm8k"));
        var predictions = await HostileFiles.CaptureWithoutBlocking(fifo, () => Scoring.ReadPredictionsAsync(fifo));
        var bytes = await HostileFiles.CaptureWithoutBlocking(fifo, () => InputFile.ReadAllBytes(fifo, 100));

        foreach (var ex in new[] { benchmark, predictions })
        {
            var data = Assert.IsType<MagDataException>(ex);
            Assert.Equal(fifo, data.File);
            Assert.Contains("FIFO", data.Reason, StringComparison.Ordinal);
        }

        var invalid = Assert.IsType<InvalidDataException>(bytes);
        Assert.StartsWith($"{fifo}: is not a regular file but a FIFO", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InputFile_Problem_TellsRegularFilesDirectoriesAndMissingFilesApart()
    {
        string file = Write("a.txt", "x");
        string link = Path.Combine(_dir, "link.txt");
        File.CreateSymbolicLink(link, file);

        Assert.Null(InputFile.Problem(file));
        Assert.Null(InputFile.Problem(link));
        Assert.Equal("is a directory, not a file", InputFile.Problem(_dir));
        Assert.Equal("file not found", InputFile.Problem(Path.Combine(_dir, "missing")));
        Assert.Throws<FileNotFoundException>(() => InputFile.EnsureRegular(Path.Combine(_dir, "missing")));
        Assert.Throws<InvalidDataException>(() => InputFile.EnsureRegular(_dir));
    }

    [Fact]
    public void InputFile_Devices_AreNotRegularFiles()
    {
        if (!File.Exists("/dev/zero"))
        {
            return; // no /dev on Windows
        }

        // /dev/zero never ends: reading it whole would never return.
        Assert.Equal("is not a regular file but a character device; MagDi reads only regular files", InputFile.Problem("/dev/zero"));
        var ex = Assert.Throws<InvalidDataException>(() => InputFile.ReadAllBytes("/dev/zero", 10));
        Assert.StartsWith("/dev/zero: is not a regular file but a character device", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InputFile_ReadAllBytes_RefusesAFileOverTheLimitBeforeReadingIt()
    {
        string path = Write("big.bin", new byte[1000]);

        var ex = Assert.Throws<InvalidDataException>(() => InputFile.ReadAllBytes(path, 999));

        Assert.Equal($"{path}: the file is 1,000 bytes, over the limit of 999 bytes for this kind of file.", ex.Message);
        Assert.Equal(1000, InputFile.ReadAllBytes(path, 1000).Length);
    }

    [Fact]
    public void InputFile_ReadAllText_RejectsInvalidUtf8NamingTheLine()
    {
        string path = Write("t.txt", [.. "one\ntwo\nth"u8, 0xC3, 0x28, .. "ree\n"u8]);

        var ex = Assert.Throws<InvalidDataException>(() => InputFile.ReadAllText(path, 1000));

        Assert.Equal($"{path}: line 3: invalid UTF-8.", ex.Message);
    }
}
