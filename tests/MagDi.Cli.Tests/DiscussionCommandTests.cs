using MagDi.Cli.Commands;
using MagDi.Graphs.IO;
using MagDi.Graphs.Tests;

namespace MagDi.Cli.Tests;

/// <summary>The body of <c>magdi discuss</c> called directly (it moved from the library into the CLI).</summary>
public sealed class DiscussionCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AgentEndpoint_ParsesBothForms()
    {
        Assert.Equal(new AgentEndpoint("gpt4", null, "gpt-4o"), AgentEndpoint.Parse("gpt4=gpt-4o"));
        Assert.Equal(new AgentEndpoint("llama", new Uri("http://localhost:11434/v1"), "llama3.1:8b"), AgentEndpoint.Parse("llama=http://localhost:11434/v1|llama3.1:8b"));
        Assert.Contains("NAME=MODEL", Assert.Throws<FormatException>(() => AgentEndpoint.Parse("gpt-4o")).Message, StringComparison.Ordinal);
        Assert.Contains("not an http", Assert.Throws<FormatException>(() => AgentEndpoint.Parse("a=ftp://x|m")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SyntheticWithSimulatedTeachers_WritesTheCorpus()
    {
        var options = new DiscussionCommandOptions { Task = "synthetic-comparison", Questions = "synthetic:6", Output = _dir.File("cmd.jsonl"), Rounds = 2, Concurrency = 2 };

        var summary = await DiscussionCommand.RunAsync(options);

        Assert.Equal(6, summary.Written);
        Assert.All(File.ReadAllLines(options.Output), l => Assert.True(MagJsonl.Parse(l).InteractionRounds <= 2));
    }

    [Fact]
    public async Task Run_QuestionsFromAFile_UsesTheOracleForSimulatedTeachers()
    {
        string questions = _dir.File("q.jsonl");
        await File.WriteAllLinesAsync(questions,
        [
            "{\"id\": \"s1\", \"question\": \"Is the sky green?\", \"answer\": false}",
            "{\"id\": \"s2\", \"question\": \"Do fish live in water?\", \"answer\": true}",
        ]);
        var options = new DiscussionCommandOptions { Task = "strategyqa", Questions = questions, Output = _dir.File("sqa.jsonl"), Simulated = true };

        var summary = await DiscussionCommand.RunAsync(options);

        Assert.Equal(2, summary.Written);
        var graphs = File.ReadAllLines(options.Output).Select(l => MagJsonl.Parse(l)).ToList();
        Assert.All(graphs, g => Assert.Contains(g.Nodes, n => n.IsCorrect));
    }

    [Fact]
    public async Task Run_RealAgentsWithoutFactory_Fails()
    {
        var options = new DiscussionCommandOptions { Questions = "synthetic:1", Output = _dir.File("x.jsonl") };
        options.Agents.Add(AgentEndpoint.Parse("a=m"));

        await Assert.ThrowsAsync<ArgumentException>(() => DiscussionCommand.RunAsync(options));
    }
}
