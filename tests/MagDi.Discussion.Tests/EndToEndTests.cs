using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
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
        var options = TestData.FastOptions();
        options.Resilience.CallTimeout = TimeSpan.FromMilliseconds(700);
        var agents = TestData.Resilient(team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))), options);
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
        var agents = TestData.Resilient(team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))), TestData.FastOptions());
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

    [Fact]
    public async Task Run_OverHttp_ReplyWithEmptyChoices_IsRetriedLikeATransientError()
    {
        var questions = TestData.Synthetic(1, seed: 5);
        string reference = TestData.TempFile("reference.jsonl");
        await new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 2), TestData.FastOptions()).RunAsync(questions, reference);

        var team = SimulatedTeacher.CreateTeam(seed: 2);
        // Every third request is a 200 whose choices list is empty.
        await using var server = await FakeOpenAIServer.StartAsync(team.ToDictionary(a => a.Name, a => a.Client), n => n % 3 == 0 ? Fault.EmptyChoices : Fault.None);
        string output = TestData.TempFile("http.jsonl");
        var logger = new ListLogger();
        var agents = TestData.Resilient(team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))), TestData.FastOptions(), logger);

        var summary = await new DiscussionRunner(agents, TestData.FastOptions(), logger).RunAsync(questions, output);

        Assert.True(summary.FailedQuestionIds.Count == 0, string.Join("\n", logger.Errors));
        Assert.True(server.FaultCount(Fault.EmptyChoices) > 0);
        Assert.Contains(logger.Lines, l => l.Contains("retry", StringComparison.Ordinal) && l.Contains("no choices", StringComparison.Ordinal));
        Assert.Equal(TestData.SortedLines(reference), TestData.SortedLines(output));
    }

    [Fact]
    public async Task Run_OverHttp_Unauthorized_FailsWithoutRetryAndLogsTheReason()
    {
        var questions = TestData.Synthetic(1, seed: 5).Take(1).ToList();
        var team = SimulatedTeacher.CreateTeam(seed: 2);
        await using var server = await FakeOpenAIServer.StartAsync(team.ToDictionary(a => a.Name, a => a.Client), _ => Fault.Unauthorized);
        var logger = new ListLogger();
        var agents = TestData.Resilient(team.Select(a => new DiscussionAgent(a.Name, server.ClientFor(a.Name))), TestData.FastOptions(), logger);

        var summary = await new DiscussionRunner(agents, TestData.FastOptions(), logger).RunAsync(questions, TestData.TempFile("401.jsonl"));

        Assert.Equal([questions[0].Id], summary.FailedQuestionIds);
        Assert.Equal(agents.Count, server.Requests); // one call per agent, no retries: a wrong key does not heal
        Assert.Contains(logger.Errors, e => e.Contains("401", StringComparison.Ordinal));
    }
}

/// <summary>Collects formatted log lines and the messages of logged exceptions.</summary>
internal sealed class ListLogger : Microsoft.Extensions.Logging.ILogger<DiscussionRunner>
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_gate)
        {
            _lines.Add(formatter(state, exception));
            if (exception is not null)
            {
                _errors.Add(exception.ToString());
            }
        }
    }
}
