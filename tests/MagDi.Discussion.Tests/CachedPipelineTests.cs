using MagDi.Graphs.Discussion.Simulation;
using MagDi.Samples.Discussion;
using Microsoft.Extensions.Configuration;

namespace MagDi.Discussion.Tests;

/// <summary>The discussion sample's cached pipeline: a rerun over the same questions makes no network call.</summary>
public class CachedPipelineTests
{
    [Fact]
    public async Task Sample_SecondPass_IsServedFromTheCache_WithNoRequestAndIdenticalMags()
    {
        var team = SimulatedTeacher.CreateTeam(seed: 1234);
        int afterFirstPass = -1;
        await using var server = await FakeOpenAIServer.StartAsync(team.ToDictionary(a => a.Name, a => a.Client), _ => Fault.None);
        string output = TestData.TempFile("mags.jsonl");
        var settings = new Dictionary<string, string?>
        {
            ["MagDi:Discussions:Agents:0"] = "gpt4",
            ["MagDi:Discussions:Agents:1"] = "claude",
            ["MagDi:Discussions:Agents:2"] = "bard",
            ["MagDi:Discussions:MaxRounds"] = "3",
            ["Discussion:Task"] = "synthetic-arithmetic",
            ["Discussion:Questions"] = "synthetic:6",
            ["Discussion:Output"] = output,
            ["Discussion:Passes"] = "2",
            ["Discussion:Simulated"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var agent in team)
        {
            settings[$"Discussion:Teachers:{agent.Name}:Endpoint"] = server.Endpoint.ToString();
            settings[$"Discussion:Teachers:{agent.Name}:Model"] = agent.Name;
        }

        var report = new PassWatcher(() => afterFirstPass = server.Requests);
        int code = await DiscussionSample.RunAsync(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), report);

        Assert.True(code == 0, report.ToString());
        Assert.True(afterFirstPass > 0, "the first pass reached the server");
        Assert.Equal(afterFirstPass, server.Requests); // the second pass sent nothing
        Assert.Contains("Pass 2: 0 calls reached the teachers", report.ToString(), StringComparison.Ordinal);
        var first = TestData.SortedLines(output);
        Assert.Equal(6, first.Count);
        Assert.Equal(first, TestData.SortedLines(Path.ChangeExtension(output, null) + ".pass2.jsonl"));
    }

    /// <summary>Collects the report and notes the server's count when the first pass's summary line arrives.</summary>
    private sealed class PassWatcher(Action onFirstPassDone) : StringWriter
    {
        public override Task WriteLineAsync(string? value)
        {
            if (value is not null && value.StartsWith("Pass 1: wrote", StringComparison.Ordinal))
            {
                onFirstPassDone();
            }

            return base.WriteLineAsync(value);
        }
    }
}
