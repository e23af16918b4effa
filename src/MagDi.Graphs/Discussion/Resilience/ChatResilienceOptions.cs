using System.Globalization;
using Microsoft.Extensions.Options;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Settings of <see cref="ResilientChatClient"/>: retries with exponential backoff, the <c>Retry-After</c> cap, the
/// per-attempt timeout and the rate limit of one chat endpoint. Bind from configuration or set in code.
/// </summary>
public sealed class ChatResilienceOptions
{
    /// <summary>The name used in log messages (for example the agent's name); <see langword="null"/> for the client's model id.</summary>
    public string? Name { get; set; }

    /// <summary>Retries of a chat call after a transient error (network, timeout, HTTP 408/429/5xx, unreadable reply). Default 6.</summary>
    public int MaxRetries { get; set; } = 6;

    /// <summary>First retry delay; doubles with each retry (exponential backoff). Default 2 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest computed retry delay. Default 60 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Adds random jitter to backoff delays (not to server-requested Retry-After delays). Default true.</summary>
    public bool RetryJitter { get; set; } = true;

    /// <summary>Longest Retry-After delay honoured; longer requests are capped to this. Default 5 min.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Timeout of one call attempt. Default 120 s.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Requests per minute sent through this client (a token bucket, bursts up to one second's worth); <see langword="null"/> for no limit. Default none.</summary>
    public double? RequestsPerMinute { get; set; }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are invalid; the message lists all of them.</exception>
    public void Validate()
    {
        var problems = Problems(string.Empty).ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(nameof(ChatResilienceOptions), typeof(ChatResilienceOptions), problems);
        }
    }

    /// <summary>A copy.</summary>
    internal ChatResilienceOptions Clone() => (ChatResilienceOptions)MemberwiseClone();

    /// <summary>Every problem, each naming its setting after <paramref name="prefix"/> (for example <c>Resilience:</c>).</summary>
    internal IEnumerable<string> Problems(string prefix)
    {
        if (MaxRetries < 0) yield return $"{prefix}MaxRetries must be 0 or more (was {MaxRetries}).";
        if (RetryBaseDelay <= TimeSpan.Zero) yield return $"{prefix}RetryBaseDelay must be positive (was {RetryBaseDelay}).";
        if (RetryMaxDelay < RetryBaseDelay) yield return $"{prefix}RetryMaxDelay ({RetryMaxDelay}) must be at least RetryBaseDelay ({RetryBaseDelay}).";
        if (MaxRetryAfter < TimeSpan.Zero) yield return $"{prefix}MaxRetryAfter must not be negative (was {MaxRetryAfter}).";
        if (CallTimeout <= TimeSpan.Zero) yield return $"{prefix}CallTimeout must be positive (was {CallTimeout}).";
        if (RequestsPerMinute is { } rpm && !(rpm > 0 && double.IsFinite(rpm)))
        {
            yield return $"{prefix}RequestsPerMinute must be positive (was {rpm.ToString(CultureInfo.InvariantCulture)}).";
        }
    }
}
