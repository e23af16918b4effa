using System.Net;
using MagDi.Graphs.IO;

namespace MagDi.Cli.Tests;

/// <summary>
/// <c>magdi discuss</c> with real agents: the CLI's OpenAI client talks to a tiny OpenAI-compatible chat-completions
/// server on 127.0.0.1 started by the test.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class DiscussRealClientTests(CliFixture fixture)
{
    [Fact]
    public async Task Agents_OnAnOpenAiCompatibleServer_ProduceMags()
    {
        using var server = new ScriptedChatServer((_, model) => (HttpStatusCode.OK, ScriptedChatServer.Completion(model, ScriptedChatServer.Reply("6 times 7 is 42."))));
        string outPath = Path.Combine(fixture.NewDirectory("discuss-http"), "mags.jsonl");
        var (code, output, err) = await CliFixture.Run(
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:2", "--out", outPath, "--rounds", "1",
            "--agent", $"a={server.BaseUrl}|model-a", "--agent", $"b={server.BaseUrl}|model-b");

        Assert.True(code == 0, err);
        Assert.Contains("Wrote 2 MAG(s)", output);
        var read = await MagFile.ReadAsync(outPath);
        Assert.Equal(2, read.Graphs.Count);
        Assert.All(read.Graphs, g => Assert.All(g.Nodes, n => Assert.Equal("42", n.Answer)));
        Assert.Contains("model-a", server.Models);
        Assert.Contains("model-b", server.Models);
    }

    [Fact]
    public async Task Agents_ThatRejectEveryCall_FailTheQuestionsWithExitCode2()
    {
        using var server = new ScriptedChatServer((_, _) => (HttpStatusCode.BadRequest, ScriptedChatServer.Error("bad request")));
        string outPath = Path.Combine(fixture.NewDirectory("discuss-400"), "mags.jsonl");
        var (code, _, err) = await CliFixture.Run(
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:2", "--out", outPath,
            "--agent", $"a={server.BaseUrl}|m", "--agent", $"b={server.BaseUrl}|m");

        Assert.Equal(2, code);
        Assert.Contains("2 question(s) failed", err);
    }
}
