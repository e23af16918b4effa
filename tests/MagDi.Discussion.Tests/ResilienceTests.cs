using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace MagDi.Discussion.Tests;

public class ResilienceTests
{
    [Fact]
    public async Task TokenBucket_WaitsForTheNextTokenOnTheInjectedClock()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(60, time); // one request per second

        await bucket.WaitAsync(CancellationToken.None);
        var second = bucket.WaitAsync(CancellationToken.None);
        Assert.False(second.IsCompleted);

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(500));
        await second.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task RetryAfter_IsReadFromTheOpenAIClientsException()
    {
        var models = new Dictionary<string, IChatClient> { ["m"] = new SimulatedTeacher(SimulatedTeacherProfile.Strong("m")) };
        await using var server = await FakeOpenAIServer.StartAsync(models, _ => Fault.TooManyRequests);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => server.ClientFor("m").GetResponseAsync("Question: hi"));

        Assert.Equal(TimeSpan.FromSeconds(0.01), TransientErrors.RetryAfter(ex));
        Assert.True(TransientErrors.IsTransient(ex, CancellationToken.None));
    }

    [Fact]
    public async Task Pipeline_429WithRetryAfter_WaitsExactlyThatLongOnTheInjectedClock()
    {
        var time = new TimerCountingTimeProvider();
        var client = new ScriptedClient(
            _ => throw new StatusException(429, ("Retry-After", "30")),
            _ => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))));
        var options = new ChatResilienceOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1), RetryMaxDelay = TimeSpan.FromMilliseconds(1) };
        var caller = new ResilientChatClient(client, options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, time);

        var call = caller.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], null, CancellationToken.None);
        await WaitUntil(() => client.Calls == 1 && time.Timers >= 2); // the attempt's timeout, then the retry delay
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("ok", (await call.WaitAsync(TimeSpan.FromSeconds(10))).Text);
        Assert.Equal(2, client.Calls);
    }

    [Fact]
    public async Task Pipeline_HangingCall_TimesOutAndIsRetried_NonTransientErrorIsNot()
    {
        var time = new FakeTimeProvider();
        var client = new ScriptedClient(
            async ct => { await Task.Delay(Timeout.Infinite, ct); throw new InvalidOperationException("unreachable"); },
            _ => throw new StatusException(401));
        var options = new ChatResilienceOptions { CallTimeout = TimeSpan.FromSeconds(10), RetryBaseDelay = TimeSpan.FromSeconds(1), RetryJitter = false };
        var caller = new ResilientChatClient(client, options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, time);

        var call = caller.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], null, CancellationToken.None);
        await WaitUntil(() => client.Calls == 1);
        time.Advance(TimeSpan.FromSeconds(10)); // the attempt times out
        for (int i = 0; i < 500 && client.Calls < 2; i++)
        {
            await Task.Delay(10);
            time.Advance(TimeSpan.FromMilliseconds(100)); // through the 1 s backoff
        }

        var ex = await Assert.ThrowsAsync<StatusException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(401, ex.Status);
        Assert.Equal(2, client.Calls);
    }

    [Fact]
    public async Task Runner_TakesABareClientAsGiven_ATransientErrorIsNotRetried()
    {
        var client = new ScriptedClient(
            _ => throw new HttpRequestException("connection reset"),
            _ => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "{\"reasoning\": \"r\", \"answer\": \"1\", \"confidence_level\": 0.9}"))));
        var runner = new DiscussionRunner([new DiscussionAgent("a", client)], new DiscussionOptions { MaxRounds = 0 });

        await Assert.ThrowsAsync<HttpRequestException>(() => runner.DiscussAsync(TestData.Synthetic(1)[0]));
        Assert.Equal(1, client.Calls);
    }

    [Fact]
    public async Task UseMagDiResilience_InABuilderPipeline_RetriesTheSameTransientError()
    {
        var client = new ScriptedClient(
            _ => throw new HttpRequestException("connection reset"),
            _ => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "{\"reasoning\": \"r\", \"answer\": \"1\", \"confidence_level\": 0.9}"))));
        var counter = new TokenUsageCounter();
        using var pipeline = client.AsBuilder()
            .UseMagDiResilience(new ChatResilienceOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1), RetryMaxDelay = TimeSpan.FromMilliseconds(1) })
            .UseTokenUsageCounter(counter)
            .Build();
        var runner = new DiscussionRunner([new DiscussionAgent("a", pipeline)], new DiscussionOptions { MaxRounds = 0 });

        var result = await runner.DiscussAsync(TestData.Synthetic(1)[0]);

        Assert.Equal(2, client.Calls);
        Assert.Equal("1", result.Graph.Nodes[0].Answer);
        Assert.Equal(1, counter.Total.Calls); // the failed attempt never produced a reply
    }

    [Fact]
    public void ResilientChatClient_InvalidOptions_ListEveryProblem()
    {
        var options = new ChatResilienceOptions { MaxRetries = -1, CallTimeout = TimeSpan.Zero, RequestsPerMinute = 0 };

        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => new ResilientChatClient(new ScriptedClient(), options));

        Assert.Equal(3, ex.Failures.Count());
    }

    private sealed class TimerCountingTimeProvider : FakeTimeProvider
    {
        private int _timers;

        public int Timers => Volatile.Read(ref _timers);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timers);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    /// <summary>Has the shape of System.ClientModel's ClientResultException (Status, GetRawResponse().Headers.TryGetValue).</summary>
    private sealed class StatusException(int status, params (string Name, string Value)[] headers) : Exception($"HTTP {status}")
    {
        public int Status { get; } = status;

        public FakeResponse GetRawResponse() => new(headers.ToDictionary(h => h.Name, h => h.Value, StringComparer.OrdinalIgnoreCase));
    }

    private sealed class FakeResponse(Dictionary<string, string> headers)
    {
        public FakeHeaders Headers { get; } = new(headers);
    }

    private sealed class FakeHeaders(Dictionary<string, string> headers)
    {
        public bool TryGetValue(string name, out string? value)
        {
            bool found = headers.TryGetValue(name, out string? v);
            value = v;
            return found;
        }
    }

    private sealed class ScriptedClient(params Func<CancellationToken, Task<ChatResponse>>[] steps) : IChatClient
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            int n = Interlocked.Increment(ref _calls) - 1;
            return steps[Math.Min(n, steps.Length - 1)](cancellationToken);
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    [Fact]
    public void IsTransient_ClassifiesErrors()
    {
        Assert.True(TransientErrors.IsTransient(new HttpRequestException("reset"), CancellationToken.None));
        Assert.True(TransientErrors.IsTransient(new HttpRequestException("busy", null, System.Net.HttpStatusCode.ServiceUnavailable), CancellationToken.None));
        Assert.False(TransientErrors.IsTransient(new HttpRequestException("bad key", null, System.Net.HttpStatusCode.Unauthorized), CancellationToken.None));
        Assert.True(TransientErrors.IsTransient(new System.Text.Json.JsonException("bad body"), CancellationToken.None));
        Assert.False(TransientErrors.IsTransient(new InvalidOperationException("bug"), CancellationToken.None));
        Assert.False(TransientErrors.IsTransient(new TaskCanceledException(), new CancellationToken(canceled: true)));
    }

}
