using MagDi.Graphs.Discussion;
using Microsoft.Extensions.AI;

namespace MagDi.Discussion.Tests;

/// <summary>Discussions through the real OpenAI client against a local OpenAI-compatible server that misbehaves.</summary>
public class EndToEndTests
{
    [Fact]
    public async Task Run_OverHttpWithInjectedFaults_EqualsTheFaultFreeCorpus()
    {
        var questions = TestData.Synthetic(6);
        string reference = TestData.TempFile("reference.jsonl");
        await new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 11), TestData.FastOptions()).RunAsync(questions, reference);

        var team = SimulatedTeacher.CreateTeam(seed: 11);
        var models = team.ToDictionary(a => a.Name, a => a.Client);
        // Every 5th request misbehaves, cycling through every fault kind; timeouts only twice to keep the test fast.
        int timeouts = 0;
        Fault Plan(int n)
        {
            if (n % 5 != 0) return Fault.None;
            var fault = (Fault)(1 + ((n / 5) % 5));
            return fault == Fault.Timeout && Interlocked.Increment(ref timeouts) > 2 ? Fault.ServerError : fault;
        }

        await using var server = await FakeOpenAIServer.StartAsync(models, Plan, timeoutDelay: TimeSpan.FromSeconds(10));
        var agents = team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))).ToList();
        var options = TestData.FastOptions();
        options.CallTimeout = TimeSpan.FromMilliseconds(700);
        string output = TestData.TempFile("http.jsonl");

        var summary = await new DiscussionRunner(agents, options).RunAsync(questions, output);

        Assert.Empty(summary.FailedQuestionIds);
        Assert.Equal(questions.Count, summary.Written);
        foreach (var fault in new[] { Fault.TooManyRequests, Fault.ServerError, Fault.Timeout, Fault.MalformedJson, Fault.DropConnection })
        {
            Assert.True(server.FaultCount(fault) > 0, $"no {fault} was injected");
        }

        Assert.Equal(TestData.SortedLines(reference), TestData.SortedLines(output));
        Assert.True(summary.RunningTotal.InputTokens > 0 && summary.RunningTotal.OutputTokens > 0);
    }

    [Fact]
    public async Task Run_OverHttp_CancelAndResume_EqualsTheFaultFreeCorpus()
    {
        var questions = TestData.Synthetic(4, seed: 21);
        string reference = TestData.TempFile("reference.jsonl");
        await new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 4), TestData.FastOptions()).RunAsync(questions, reference);

        var team = SimulatedTeacher.CreateTeam(seed: 4);
        await using var server = await FakeOpenAIServer.StartAsync(team.ToDictionary(a => a.Name, a => a.Client), n => n % 7 == 0 ? Fault.TooManyRequests : Fault.None);
        var agents = team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))).ToList();
        string output = TestData.TempFile("http.jsonl");
        using var cts = new CancellationTokenSource();
        var progress = new TestData.SyncProgress<DiscussionProgress>(p =>
        {
            if (p.Completed >= 3) cts.Cancel();
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new DiscussionRunner(agents, TestData.FastOptions(concurrency: 2)).RunAsync(questions, output, progress, cts.Token));
        var summary = await new DiscussionRunner(agents, TestData.FastOptions()).RunAsync(questions, output);

        Assert.True(summary.Skipped >= 3);
        Assert.Equal(TestData.SortedLines(reference), TestData.SortedLines(output));
    }
}
