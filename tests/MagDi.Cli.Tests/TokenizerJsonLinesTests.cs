using System.Text;
using MagDi.Cli.Commands;
using MagDi.Tokenization;

namespace MagDi.Cli.Tests;

/// <summary>
/// The body of <c>magdi tokenize --in</c> (moved here from MagDi.Core with it): JSONL text lines to id lines, and
/// hostile input files (issue 15), each an <see cref="InvalidDataException"/> naming the file, the line and the field.
/// </summary>
public sealed class TokenizerJsonLinesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-tokenize-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<string> s_vocabularies = new(() =>
        TokenizerTestData.EnsureUnpacked(Machine.RepositoryRoot(), Path.Combine(AppContext.BaseDirectory, "test-tokenizers")));

    /// <summary>A committed real vocabulary (tests/TestData/tokenizers).</summary>
    private static ITextTokenizer Real(string family) => TokenizerLoader.Load(Path.Combine(s_vocabularies.Value, family));

    private string Write(string name, string content) => Write(name, Encoding.UTF8.GetBytes(content));

    private string Write(string name, byte[] content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public async Task TokenizeAsync_MapsTextLinesToIdLinesInOrder()
    {
        var t = Real("mistral");
        var input = new StringReader("{\"text\":\"Hello world\",\"id\":1}\n{\"text\":\"\"}\n{\"text\":\"a\\nb\"}\n");
        var output = new StringWriter();
        int count = await TokenizerJsonLines.TokenizeAsync(t, input, output, addSpecialTokens: true);
        Assert.Equal(3, count);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("{\"ids\":[1,22557,1526]}", lines[0]);
        Assert.Equal("{\"ids\":[1]}", lines[1]);
        Assert.Equal(TokenizerJsonLines.FormatIds(t.Encode("a\nb", addSpecialTokens: true)), lines[2]);
    }

    [Theory]
    [InlineData("{\"text\":\"ok\"}\n{\"txt\":\"x\"}\n", "line 2", "\"text\"")]
    [InlineData("{\"text\":\"ok\"}\n[1,2]\n", "line 2", "JSON object")]
    [InlineData("{\"text\":5}\n", "line 1", "not a string")]
    [InlineData("{\"text\":\"ok\"}\n\n", "line 2", "blank")]
    [InlineData("{\"text\":\"ok\"\n", "line 1", "invalid JSON")]
    public async Task TokenizeAsync_BadLine_ThrowsNamingTheLine(string input, string line, string reason)
    {
        var e = await Assert.ThrowsAsync<InvalidDataException>(() =>
            TokenizerJsonLines.TokenizeAsync(Real("gpt2"), new StringReader(input), new StringWriter()));
        Assert.Contains(line, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public async Task TokenizeFile_LoneSurrogate_NamesFileLineAndField()
    {
        string path = Write("in.jsonl", "{\"text\":\"fine\"}\n{\"text\":\"x\\ud800y\"}\n");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() =>
            TokenizerJsonLines.TokenizeFileAsync(new CharTokenizer(), path, new StringWriter()));

        Assert.StartsWith($"{path}: line 2, field \"text\": the string holds the escape \\ud800", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenizeFile_InvalidUtf8_NamesFileAndLineInsteadOfReplacingIt()
    {
        byte[] bytes = [.. "{\"text\":\"ok\"}\n{\"text\":\"caf"u8, 0xE9, .. "\"}\n"u8];
        string path = Write("latin1.jsonl", bytes);
        var output = new StringWriter();

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => TokenizerJsonLines.TokenizeFileAsync(new CharTokenizer(), path, output));

        Assert.Equal($"{path}: line 2: invalid UTF-8.", ex.Message);
        Assert.DoesNotContain("\uFFFD", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenizeFile_ReadsTheSameIdsAsTheTextReaderOverload()
    {
        const string Content = "\uFEFF{\"text\":\"Hello world\",\"id\":1}\r\n{\"text\":\"caf\u00e9 \\ud83d\\ude00\"}\n";
        string path = Write("ok.jsonl", Content);
        var fromFile = new StringWriter();
        var fromReader = new StringWriter();

        int n = await TokenizerJsonLines.TokenizeFileAsync(new CharTokenizer(), path, fromFile);
        await TokenizerJsonLines.TokenizeAsync(new CharTokenizer(), new StringReader(Content.TrimStart('\uFEFF')), fromReader);

        Assert.Equal(2, n);
        Assert.Equal(fromReader.ToString(), fromFile.ToString());
    }

    [Fact]
    public async Task TokenizeReader_WithAStrictDecoder_ReportsInvalidUtf8AsInvalidData()
    {
        byte[] bytes = [.. "{\"text\":\"ok\"}\n{\"text\":\""u8, 0xFF, .. "\"}\n"u8];
        using var reader = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => TokenizerJsonLines.TokenizeAsync(new CharTokenizer(), reader, new StringWriter()));

        Assert.Contains("invalid UTF-8", ex.Message, StringComparison.Ordinal);
        Assert.IsType<DecoderFallbackException>(ex.InnerException);
    }

    [Fact]
    public async Task TokenizeFile_RefusesAFifoWithoutBlocking()
    {
        string fifo = Path.Combine(_dir, "input.jsonl");
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        var tokenize = await HostileFiles.CaptureWithoutBlocking(fifo, () => TokenizerJsonLines.TokenizeFileAsync(new CharTokenizer(), fifo, new StringWriter()));

        var invalid = Assert.IsType<InvalidDataException>(tokenize);
        Assert.StartsWith($"{fifo}: is not a regular file but a FIFO", invalid.Message, StringComparison.Ordinal);
    }
}
