using System.Text;
using MagDi.Testing;

namespace MagDi.Cli.Tests;

/// <summary>
/// Issue 15 end to end: hostile input files read by the library readers give exit 2 and one message naming the file,
/// the line and the field; never a stack trace, a hang or text silently changed into U+FFFD.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class HostileInputCliTests(CliFixture fixture)
{
    [Fact]
    public async Task Tokenize_InvalidUtf8_IsExit2NamingFileAndLine()
    {
        string dir = fixture.NewDirectory("hostile-utf8");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllBytesAsync(input, [.. "{\"text\":\"ok\"}\n{\"text\":\"caf"u8, 0xE9, .. "\"}\n"u8]);
        string outPath = Path.Combine(dir, "out.jsonl");

        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", outPath);

        Assert.Equal(2, code);
        Assert.Equal($"error: {input}: line 2: invalid UTF-8.", err.Trim());
        Assert.False(File.Exists(outPath));
    }

    [Fact]
    public async Task Tokenize_LoneSurrogateEscape_IsExit2NamingFileLineAndField()
    {
        string dir = fixture.NewDirectory("hostile-surrogate");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllTextAsync(input, "{\"text\":\"\\ud800\"}\n");

        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input);

        Assert.Equal(2, code);
        Assert.StartsWith($"error: {input}: line 1, field \"text\": the string holds the escape \\ud800", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MagsStats_LoneSurrogateEscape_IsExit2NamingFileLineAndField()
    {
        string dir = fixture.NewDirectory("hostile-mags");
        string input = Path.Combine(dir, "mags.jsonl");
        string[] lines = await File.ReadAllLinesAsync(fixture.MagsPath);
        lines[1] = lines[1].Replace("Tom has", "Tom \\udfff has", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(input, lines);

        var (code, _, err) = await CliFixture.Run("mags", "stats", "--in", input);

        Assert.Equal(2, code);
        Assert.Contains($"{input}:line 2 (element 1), field 'question': the string holds the escape \\udfff", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokenize_FifoInput_IsExit2WithoutBlocking()
    {
        string dir = fixture.NewDirectory("hostile-fifo");
        string fifo = Path.Combine(dir, "in.jsonl");
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        (int Code, string Out, string Err) result = default;
        var ex = await HostileFiles.CaptureWithoutBlocking(fifo, async () =>
            result = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", fifo));

        Assert.Null(ex);
        Assert.Equal(2, result.Code);
        Assert.Contains($"{fifo}: is not a regular file but a FIFO", result.Err, StringComparison.Ordinal);
    }
}
