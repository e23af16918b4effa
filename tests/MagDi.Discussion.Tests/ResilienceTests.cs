using MagDi.Graphs.Discussion;
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
