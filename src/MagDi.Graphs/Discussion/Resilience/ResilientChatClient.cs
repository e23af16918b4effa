using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Calls one agent through its resilience pipeline: retry (exponential backoff with jitter, Retry-After
/// honoured) around a per-agent rate limit around a per-attempt timeout.
/// </summary>
internal sealed class AgentCaller
{
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;

    public AgentCaller(DiscussionAgent agent, DiscussionOptions options, TimeProvider timeProvider, ILogger logger)
    {
        Agent = agent;
        _logger = logger;
        var builder = new ResiliencePipelineBuilder { TimeProvider = timeProvider, Name = $"magdi-discussion-{agent.Name}" };
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = options.RetryJitter,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex && TransientErrors.IsTransient(ex, args.Context.CancellationToken)),
                DelayGenerator = args =>
                {
                    TimeSpan? after = args.Outcome.Exception is { } ex ? TransientErrors.RetryAfter(ex) : null;
                    return ValueTask.FromResult(after is { } d ? (TimeSpan?)(d > options.MaxRetryAfter ? options.MaxRetryAfter : d) : null);
                },
                OnRetry = args =>
                {
                    DiscussionLog.Retrying(_logger, Agent.Name, args.AttemptNumber + 1, Math.Round(args.RetryDelay.TotalMilliseconds), TransientErrors.Describe(args.Outcome.Exception));
                    return ValueTask.CompletedTask;
                },
            });
        }

        if (options.RequestsPerMinuteFor(agent.Name) is { } rpm)
        {
            var bucket = new TokenBucket(rpm, timeProvider);
            builder.AddStrategy(_ => new RateLimitStrategy(bucket), new RateLimitStrategyOptions());
        }

        builder.AddTimeout(options.CallTimeout);
        _pipeline = builder.Build();
    }

    public DiscussionAgent Agent { get; }

    public async Task<ChatResponse> GetResponseAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken)
    {
        return await _pipeline.ExecuteAsync(
            static async (state, ct) => await CallAsync(state.Agent, state.messages, ct).ConfigureAwait(false),
            (Agent, messages),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One call. A reply the client cannot read (an HTTP 200 whose <c>choices</c> list is empty makes the OpenAI client
    /// index past the end of it) or a reply without any message becomes a <see cref="MalformedReplyException"/>, which is
    /// retried like a dropped connection: servers under load send such replies now and then.
    /// </summary>
    private static async Task<ChatResponse> CallAsync(DiscussionAgent agent, IReadOnlyList<ChatMessage> messages, CancellationToken ct)
    {
        ChatResponse response;
        try
        {
            response = await agent.Client.GetResponseAsync(messages, agent.Options?.Clone(), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException or NullReferenceException)
        {
            // The arguments are ours and valid (a non-empty message list): the client failed reading the server's reply.
            throw new MalformedReplyException(
                $"the server's reply could not be read (for example an HTTP 200 with no choices): {ex.GetType().Name}: {ex.Message}", ex);
        }

        if (response.Messages.Count == 0)
        {
            throw new MalformedReplyException("the server's reply held no message (no choices)");
        }

        return response;
    }

    private sealed class RateLimitStrategyOptions : ResilienceStrategyOptions;

    private sealed class RateLimitStrategy(TokenBucket bucket) : ResilienceStrategy
    {
        protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
        {
            try
            {
                await bucket.WaitAsync(context.CancellationToken).ConfigureAwait(context.ContinueOnCapturedContext);
            }
            catch (OperationCanceledException ex)
            {
                return Outcome.FromException<TResult>(ex);
            }

            return await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
        }
    }
}

/// <summary>A token bucket over a <see cref="TimeProvider"/>: <c>rpm / 60</c> tokens per second, bursts up to one second's worth.</summary>
internal sealed class TokenBucket
{
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly double _capacity;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _last;

    public TokenBucket(double requestsPerMinute, TimeProvider time)
    {
        _time = time;
        _perSecond = requestsPerMinute / 60.0;
        _capacity = Math.Max(1.0, Math.Ceiling(_perSecond));
        _tokens = _capacity;
        _last = time.GetTimestamp();
    }

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                long now = _time.GetTimestamp();
                _tokens = Math.Min(_capacity, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _perSecond));
                _last = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }

                wait = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
            }

            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Which errors of a chat call are worth retrying, and what delay the server asked for.</summary>
internal static class TransientErrors
{
    public static bool IsTransient(Exception ex, CancellationToken callerToken)
    {
        if (callerToken.IsCancellationRequested)
        {
            return false;
        }

        switch (ex)
        {
            case MalformedReplyException:
            case TimeoutRejectedException:
            case OperationCanceledException: // not the caller's token: an HTTP client timeout or an aborted request
            case IOException:
            case SocketException:
            case JsonException:
                return true;
            case HttpRequestException http:
                return http.StatusCode is null || IsTransientStatus((int)http.StatusCode.Value);
        }

        if (StatusOf(ex) is { } status)
        {
            return status == 0 || IsTransientStatus(status);
        }

        return ex.InnerException is { } inner && IsTransient(inner, callerToken);
    }

    /// <summary>
    /// The server's Retry-After (or retry-after-ms) delay, read from a System.ClientModel
    /// <c>ClientResultException</c> (the OpenAI and Azure OpenAI clients) by its shape, without a package dependency.
    /// </summary>
    public static TimeSpan? RetryAfter(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            object? response;
            try
            {
                response = e.GetType().GetMethod("GetRawResponse", Type.EmptyTypes)?.Invoke(e, null);
            }
            catch (System.Reflection.TargetInvocationException)
            {
                continue;
            }

            object? headers = response?.GetType().GetProperty("Headers")?.GetValue(response);
            var tryGet = headers?.GetType().GetMethod("TryGetValue", [typeof(string), typeof(string).MakeByRefType()]);
            if (tryGet is null)
            {
                continue;
            }

            if (Header(tryGet, headers!, "retry-after-ms") is { } ms
                && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out double msValue) && msValue >= 0)
            {
                return TimeSpan.FromMilliseconds(msValue);
            }

            if (Header(tryGet, headers!, "Retry-After") is { } value)
            {
                if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0)
                {
                    return TimeSpan.FromSeconds(seconds);
                }

                if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
                {
                    var delta = date - DateTimeOffset.UtcNow;
                    return delta > TimeSpan.Zero ? delta : TimeSpan.Zero;
                }
            }
        }

        return null;
    }

    public static string Describe(Exception? ex) => ex switch
    {
        null => "no exception",
        // Status 0: no HTTP response at all (refused connection, DNS failure): the message says which.
        _ when StatusOf(ex) is 0 => $"{ex.GetType().Name} (no response): {ex.Message}",
        _ when StatusOf(ex) is { } s => $"{ex.GetType().Name} (HTTP {s.ToString(CultureInfo.InvariantCulture)})",
        HttpRequestException { StatusCode: { } code } => $"{ex.GetType().Name} (HTTP {(int)code})",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    private static bool IsTransientStatus(int status) =>
        status is (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or >= 500;

    private static int? StatusOf(Exception ex) =>
        ex.GetType().GetProperty("Status")?.GetValue(ex) is int status ? status : null;

    private static string? Header(System.Reflection.MethodInfo tryGet, object headers, string name)
    {
        object?[] args = [name, null];
        return tryGet.Invoke(headers, args) is true ? args[1] as string : null;
    }
}

/// <summary>A chat reply that arrived but could not be read (for example an HTTP 200 with an empty <c>choices</c> list); transient.</summary>
internal sealed class MalformedReplyException : Exception
{
    public MalformedReplyException()
    {
    }

    public MalformedReplyException(string message)
        : base(message)
    {
    }

    public MalformedReplyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
