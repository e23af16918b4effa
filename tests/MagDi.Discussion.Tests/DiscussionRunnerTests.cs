using System.Text.Json;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Graphs.IO;
using MagDi.Tasks;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MagDi.Discussion.Tests;

public class DiscussionRunnerTests
{
    [Fact]
    public async Task Discuss_BuildsAReConcileGraphWithLabelsAndUsage()
    {
        var q = TestData.Synthetic(3)[1];
        var runner = new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 2), TestData.FastOptions());

        var result = await runner.DiscussAsync(q);

        var g = result.Graph;
        Assert.Equal(q.Id, g.Id);
        Assert.Equal(["gpt4", "claude", "bard"], g.Agents);
        Assert.Equal(3 * g.RoundCount, g.Nodes.Count);
        Assert.Same(InteractionPattern.ReConcile, g.Pattern);
        var task = ReasoningTasks.Get(q.Task);
        Assert.All(g.Nodes.Where(n => n.IsValid), n => Assert.Equal(task.IsCorrect(n.Answer, q.GoldAnswer), n.IsCorrect));
        Assert.Equal(3, result.AgentUsage.Count);
        Assert.All(result.AgentUsage.Values, u => Assert.True(u.InputTokens > 0 && u.Calls >= g.RoundCount));
        Assert.Equal(result.AgentUsage.Values.Sum(u => u.TotalTokens), result.TotalUsage.TotalTokens);
    }

    [Fact]
    public async Task Discuss_NoConsensus_StopsAfterMaxRounds()
    {
        var q = TestData.Synthetic(1)[0];
        var agents = new[]
        {
            new DiscussionAgent("a", new FixedAnswerClient("{\"reasoning\": \"r\", \"answer\": \"1\", \"confidence_level\": 0.9}")),
            new DiscussionAgent("b", new FixedAnswerClient("{\"reasoning\": \"r\", \"answer\": \"2\", \"confidence_level\": 1}")),
        };
        var options = TestData.FastOptions();
        options.MaxRounds = 2;

        var result = await new DiscussionRunner(agents, options).DiscussAsync(q);

        Assert.Equal(2, result.Graph.InteractionRounds);
        Assert.False(result.Consensus);
        Assert.Equal("2", result.TeamAnswer);
    }

    [Fact]
    public async Task Discuss_UnparseableAfterReasks_KeepsAnInvalidNodeWithRawText()
    {
        var q = TestData.Synthetic(1)[0];
        var garbage = new FixedAnswerClient("Sorry, I cannot answer in JSON.");
        var agents = new[]
        {
            new DiscussionAgent("good", new SimulatedTeacher(new SimulatedTeacherProfile { Name = "good", Accuracy = 1, FormatNoiseRate = 0, MalformedRate = 0 })),
            new DiscussionAgent("bad", garbage),
        };
        var options = TestData.FastOptions();
        options.MaxRounds = 1;
        options.MaxReasks = 2;

        var result = await new DiscussionRunner(agents, options).DiscussAsync(q);

        var bad = result.Graph.Nodes.Where(n => n.Agent == "bad").ToList();
        Assert.Equal(2, bad.Count); // never dropped, no consensus possible
        Assert.All(bad, n =>
        {
            Assert.False(n.IsValid);
            Assert.False(n.IsCorrect);
            Assert.Equal(0.0, n.Confidence);
            Assert.Equal("Sorry, I cannot answer in JSON.", n.RawText);
        });
        Assert.Equal(2 * 3, garbage.Calls); // 1 + 2 re-asks per round
        Assert.Equal(4, result.Reasks);
        Assert.True(result.TeamCorrect);
        Assert.Contains(garbage.LastMessages, m => m.Text.Contains("could not be read", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_CancelledMidway_ResumesToTheSameCorpus()
    {
        var questions = TestData.Synthetic(8);
        string full = TestData.TempFile("full.jsonl");
        var fullSummary = await new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 5), TestData.FastOptions()).RunAsync(questions, full);

        string resumed = TestData.TempFile("resumed.jsonl");
        using var cts = new CancellationTokenSource();
        var progress = new TestData.SyncProgress<DiscussionProgress>(p =>
        {
            if (p.Completed >= 5)
            {
                cts.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 5), TestData.FastOptions(concurrency: 2)).RunAsync(questions, resumed, progress, cts.Token));
        int before = File.ReadAllLines(resumed).Length;
        Assert.InRange(before, 5, questions.Count - 1);
        await File.AppendAllTextAsync(resumed, "{\"id\": \"half-writ"); // a crash while writing

        var summary = await new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 5), TestData.FastOptions()).RunAsync(questions, resumed);

        Assert.Equal(before, summary.Skipped);
        Assert.Equal(questions.Count - before, summary.Written);
        Assert.Empty(summary.FailedQuestionIds);
        Assert.Equal(TestData.SortedLines(full), TestData.SortedLines(resumed));
        Assert.Equal(fullSummary.RunningTotal.TotalTokens, summary.RunningTotal.TotalTokens);
        var usageLines = File.ReadAllLines(summary.UsagePath);
        Assert.Equal(questions.Count, usageLines.Length);
        using var last = JsonDocument.Parse(usageLines[^1]);
        Assert.Equal(summary.RunningTotal.TotalTokens, last.RootElement.GetProperty("running_total").GetProperty("total_tokens").GetInt64());
    }

    [Fact]
    public async Task Run_WritesCanonicalMagLinesThatReadBackEqual_InvalidNodesIncluded()
    {
        var questions = TestData.Synthetic(2);
        var agents = SimulatedTeacher.CreateTeam(seed: 9).Take(2).Append(new DiscussionAgent("mute", new FixedAnswerClient("no json here"))).ToList();
        var options = TestData.FastOptions();
        options.MaxRounds = 1;
        string path = TestData.TempFile("c.jsonl");

        await new DiscussionRunner(agents, options).RunAsync(questions, path);

        var lines = File.ReadAllLines(path);
        Assert.Equal(questions.Count, lines.Length);
        foreach (string line in lines)
        {
            var graph = MagJsonl.Parse(line);
            Assert.Equal(line, MagJsonl.Serialize(graph));
            var mute = graph.Nodes.Where(n => n.Agent == "mute").ToList();
            Assert.Equal(2, mute.Count);
            Assert.All(mute, n => Assert.True(!n.IsValid && n.RawText == "no json here" && n.Confidence == 0));
        }
    }

    [Fact]
    public async Task Run_ReportsProgressAndGraphTypes()
    {
        var questions = TestData.Synthetic(4);
        var reports = new List<DiscussionProgress>();
        var summary = await new DiscussionRunner(SimulatedTeacher.CreateTeam(), TestData.FastOptions())
            .RunAsync(questions, TestData.TempFile("p.jsonl"), new TestData.SyncProgress<DiscussionProgress>(reports.Add));

        Assert.Equal(questions.Count, reports.Count);
        Assert.Equal(questions.Count, reports[^1].Completed);
        Assert.Equal(questions.Count, summary.GraphTypes.Values.Sum());
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.Second.RunningTotal.TotalTokens > p.First.RunningTotal.TotalTokens));
    }

    [Fact]
    public async Task Run_DuplicateIdsOrUnknownTask_FailsBeforeStarting()
    {
        var runner = new DiscussionRunner(SimulatedTeacher.CreateTeam(), TestData.FastOptions());
        var q = TestData.Synthetic(1)[0];
        string path = TestData.TempFile("d.jsonl");

        var dup = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync([q, q], path));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync([q with { Task = "nope" }], path));

        Assert.Contains(q.Id, dup.Message, StringComparison.Ordinal);
        Assert.Contains("nope", unknown.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Run_MalformedExistingLine_NamesFileAndLine()
    {
        string path = TestData.TempFile("m.jsonl");
        await File.WriteAllTextAsync(path, "{\"id\": \"a\"}\nnot json\n");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() =>
            new DiscussionRunner(SimulatedTeacher.CreateTeam(), TestData.FastOptions()).RunAsync(TestData.Synthetic(1), path));

        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ReplyOverTheReadersTextLimit_IsReaskedAndTheCorpusReadsBack()
    {
        // 150,000 characters of reasoning: the readers reject text fields over DataReadOptions.DefaultMaxTextLength, so the
        // runner must never write it; it re-asks, and the brief second answer is kept.
        var q = TestData.Synthetic(1)[0];
        string huge = "{\"reasoning\": \"" + new string('x', 150_000) + "\", \"answer\": \"" + q.GoldAnswer + "\", \"confidence_level\": 0.9}";
        string brief = "{\"reasoning\": \"short\", \"answer\": \"" + q.GoldAnswer + "\", \"confidence_level\": 0.9}";
        var verbose = new SequenceClient(huge, brief);
        var agents = new[] { new DiscussionAgent("verbose", verbose), new DiscussionAgent("fixed", new FixedAnswerClient(brief)) };
        var options = TestData.FastOptions();
        options.MaxRounds = 0;
        string output = TestData.TempFile("limit.jsonl");

        var summary = await new DiscussionRunner(agents, options).RunAsync([q], output);

        Assert.Equal(1, summary.Written);
        var read = await MagFile.ReadAsync(output);
        var node = Assert.Single(read.Graphs).Nodes.First(n => n.Agent == "verbose");
        Assert.True(node.IsValid);
        Assert.Equal("short", node.Reasoning);
        Assert.Equal(2, verbose.Calls);
        Assert.Contains(verbose.LastMessages, m => m.Text.Contains("over the limit of 100000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_ReplyAlwaysOverTheLimit_IsAnInvalidNodeTheReadersAccept()
    {
        var q = TestData.Synthetic(1)[0];
        var huge = new FixedAnswerClient(new string('y', 150_000));
        var agents = new[] { new DiscussionAgent("huge", huge) };
        var options = TestData.FastOptions();
        options.MaxRounds = 0;
        options.MaxReasks = 1;
        string output = TestData.TempFile("limit-invalid.jsonl");

        await new DiscussionRunner(agents, options).RunAsync([q], output);

        var node = Assert.Single(Assert.Single((await MagFile.ReadAsync(output)).Graphs).Nodes);
        Assert.False(node.IsValid);
        Assert.Equal(DiscussionReplyParser.MaxReplyLength, node.RawText!.Length);
        Assert.Equal(DataReadOptions.DefaultMaxTextLength, DiscussionReplyParser.MaxReplyLength);
    }

    [Fact]
    public void Constructor_InvalidOptionsAndAgents_ListEveryProblem()
    {
        var options = new DiscussionOptions { MaxRounds = -1, MaxConcurrentQuestions = 0, Resilience = { CallTimeout = TimeSpan.Zero } };
        var ex = Assert.Throws<OptionsValidationException>(() => new DiscussionRunner(SimulatedTeacher.CreateTeam(), options));
        Assert.Equal(3, ex.Failures.Count());

        var twice = SimulatedTeacher.CreateTeam().Concat(SimulatedTeacher.CreateTeam().Take(1));
        Assert.Contains("gpt4", Assert.Throws<ArgumentException>(() => new DiscussionRunner(twice)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new DiscussionRunner([]));
    }

    /// <summary>Answers with the given texts in turn, then repeats the last.</summary>
    private sealed class SequenceClient(params string[] texts) : IChatClient
    {
        private int _calls;

        public int Calls => _calls;

        public IReadOnlyList<ChatMessage> LastMessages { get; private set; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            int n = Interlocked.Increment(ref _calls);
            LastMessages = messages.ToList();
            string text = texts[Math.Min(n, texts.Length) - 1];
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text)) { Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5 } });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private sealed class FixedAnswerClient(string text) : IChatClient
    {
        private int _calls;

        public int Calls => _calls;

        public IReadOnlyList<ChatMessage> LastMessages { get; private set; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            LastMessages = messages.ToList();
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text)) { Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5 } });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
