using MagDi.Graphs.Discussion;
using Microsoft.Extensions.Logging.Abstractions;

namespace MagDi.Discussion.Tests;

/// <summary>
/// Issue 15: an existing output that a resumed discussion run reads back is user input too. A lone surrogate escape,
/// invalid UTF-8, a mistyped usage count or a FIFO in its place is an <see cref="InvalidDataException"/> naming the file,
/// the line and the field, never a crash, a hang or text silently changed.
/// </summary>
public sealed class HostileCorpusTests
{
    [Fact]
    public async Task Resume_LoneSurrogateInAnId_NamesFileLineAndField()
    {
        string path = TestData.TempFile("mags.jsonl");
        await File.WriteAllTextAsync(path, "{\"id\":\"q1\"}\n{\"id\":\"q\\ud800\"}\n");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DiscussionCorpus.OpenAsync(path, NullLogger.Instance, CancellationToken.None));

        Assert.StartsWith($"{path}: line 2, field 'id': the string holds the escape \\ud800", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_InvalidUtf8_NamesFileAndLine()
    {
        string path = TestData.TempFile("mags.jsonl");
        await File.WriteAllBytesAsync(path, [.. "{\"id\":\"q1\"}\n{\"id\":\"q"u8, 0xFF, .. "\"}\n"u8]);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DiscussionCorpus.OpenAsync(path, NullLogger.Instance, CancellationToken.None));

        Assert.Equal($"{path}: line 2: invalid UTF-8.", ex.Message);
    }

    [Fact]
    public async Task Resume_UsageCountThatIsNotANumber_NamesTheField()
    {
        string path = TestData.TempFile("mags.jsonl");
        await File.WriteAllTextAsync(path, string.Empty);
        await File.WriteAllTextAsync(DiscussionCorpus.UsagePathFor(path), "{\"running_total_by_agent\":{\"a\":{\"input_tokens\":\"many\"}}}\n");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DiscussionCorpus.OpenAsync(path, NullLogger.Instance, CancellationToken.None));

        Assert.StartsWith($"{DiscussionCorpus.UsagePathFor(path)}: line 1: field 'running_total_by_agent.a.input_tokens'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_OutputThatIsAFifo_IsRefusedWithoutBlocking()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // no FIFOs on Windows
        }

        string path = TestData.TempFile("mags.jsonl");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", path))
        {
            await mkfifo.WaitForExitAsync();
        }

        var open = Task.Run(() => DiscussionCorpus.OpenAsync(path, NullLogger.Instance, CancellationToken.None));
        if (await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(20))) != open)
        {
            await using (new FileStream(path, FileMode.Open, FileAccess.Write))
            {
            }

            Assert.Fail("Opening a FIFO as the discussion output blocked.");
        }

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => open);
        Assert.StartsWith($"{path}: is not a regular file but a FIFO", ex.Message, StringComparison.Ordinal);
    }
}
