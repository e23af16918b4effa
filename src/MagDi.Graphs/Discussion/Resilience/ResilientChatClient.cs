using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Chat-client middleware that makes a teacher endpoint dependable: retries transient errors with exponential backoff
/// and jitter (honouring a server's <c>Retry-After</c>), limits the requests per minute, and times out each attempt.
/// Add it with <see cref="MagDiChatClientBuilderExtensions.UseMagDiResilience(ChatClientBuilder, ChatResilienceOptions?, ILoggerFactory?, TimeProvider?)"/>.
/// </summary>
/// <remarks>
/// The Polly v8 pipeline runs retry around rate limit around a per-attempt timeout. Transient errors are network errors,
/// timeouts, unreadable bodies, replies without a message (an HTTP 200 whose <c>choices</c> list is empty) and HTTP 408,
/// 429 and 5xx, read from <see cref="HttpRequestException.StatusCode"/> or from System.ClientModel's
/// <c>ClientResultException</c> (the OpenAI and Azure OpenAI clients). Other errors (401, 404, a bug) pass through at once.
/// One instance serves one endpoint: its rate limit is that endpoint's. Streaming calls pass through unchanged.
/// </remarks>
public sealed class ResilientChatClient : DelegatingChatClient
{
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;
    private readonly string _name;

    /// <summary>Wraps <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client that talks to the endpoint.</param>
    /// <param name="options">The settings (validated here); <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Receives a warning before each retry; <see langword="null"/> for none.</param>
    /// <param name="timeProvider">The clock of backoff, timeouts and the rate limit (a fake one in tests); default <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="OptionsValidationException">The options are invalid; the message lists every problem.</exception>
    public ResilientChatClient(IChatClient innerClient, ChatResilienceOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
        : base(innerClient)
    {
        options ??= new ChatResilienceOptions();
        options.Validate();
        Options = options.Clone();
        _logger = logger ?? NullLogger.Instance;
        var metadata = innerClient.GetService<ChatClientMetadata>();
        _name = Options.Name ?? metadata?.DefaultModelId ?? metadata?.ProviderName ?? "chat client";
        var time = timeProvider ?? TimeProvider.System;
        var builder = new ResiliencePipelineBuilder { TimeProvider = time, Name = $"magdi-chat-{_name}" };
        var o = Options;
        if (o.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = o.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = o.RetryJitter,
                Delay = o.RetryBaseDelay,
                MaxDelay = o.RetryMaxDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex && TransientErrors.IsTransient(ex, args.Context.CancellationToken)),
                DelayGenerator = args =>
                {
                    TimeSpan? after = args.Outcome.Exception is { } ex ? TransientErrors.RetryAfter(ex) : null;
                    return ValueTask.FromResult(after is { } d ? (TimeSpan?)(d > o.MaxRetryAfter ? o.MaxRetryAfter : d) : null);
                },
                OnRetry = args =>
                {
                    DiscussionLog.Retrying(_logger, _name, args.AttemptNumber + 1, Math.Round(args.RetryDelay.TotalMilliseconds), TransientErrors.Describe(args.Outcome.Exception));
                    return ValueTask.CompletedTask;
                },
            });
        }

        if (o.RequestsPerMinute is { } rpm)
        {
            var bucket = new TokenBucket(rpm, time);
            builder.AddStrategy(_ => new RateLimitStrategy(bucket), new RateLimitStrategyOptions());
        }

        builder.AddTimeout(o.CallTimeout);
        _pipeline = builder.Build();
    }

    /// <summary>The settings in force: a copy of those given, read once; changing it has no effect.</summary>
    public ChatResilienceOptions Options { get; }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Every attempt sends the same messages: materialise them once.
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        return await _pipeline.ExecuteAsync(
            static async (state, ct) => await state.Self.CallAsync(state.list, state.options, ct).ConfigureAwait(false),
            (Self: this, list, options),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One attempt. A reply the client cannot read (an HTTP 200 whose <c>choices</c> list is empty makes the OpenAI client
    /// index past the end of it) or a reply without any message becomes a <see cref="MalformedReplyException"/>, which is
    /// retried like a dropped connection: servers under load send such replies now and then.
    /// </summary>
    private async Task<ChatResponse> CallAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken ct)
    {
        ChatResponse response;
        try
        {
            // Each attempt gets its own copy: a client may change the options it is given.
            response = await base.GetResponseAsync(messages, options?.Clone(), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException or NullReferenceException)
        {
            // The arguments were checked by the caller: the client failed reading the server's reply.
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
