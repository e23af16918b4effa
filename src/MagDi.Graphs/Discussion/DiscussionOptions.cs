using System.Globalization;
using Microsoft.Extensions.Options;

namespace MagDi.Graphs.Discussion;

/// <summary>Settings of <see cref="DiscussionRunner"/>. Bind from configuration or set in code; validated when the runner is created.</summary>
public sealed class DiscussionOptions
{
    /// <summary>Discussion rounds after round 0; a discussion stops earlier on consensus. Default 3 (MAGs of type G0..G3).</summary>
    public int MaxRounds { get; set; } = 3;

    /// <summary>Re-asks after a reply that cannot be parsed, before the node is recorded as invalid. Default 2.</summary>
    public int MaxReasks { get; set; } = 2;

    /// <summary>Questions discussed at the same time. Default 4.</summary>
    public int MaxConcurrentQuestions { get; set; } = 4;

    /// <summary>Requests per minute allowed to each agent (a token bucket per agent); <see langword="null"/> for no limit. Default none.</summary>
    public double? RequestsPerMinute { get; set; }

    /// <summary>Per-agent overrides of <see cref="RequestsPerMinute"/>, by agent name.</summary>
    public Dictionary<string, double> AgentRequestsPerMinute { get; } = new(StringComparer.Ordinal);

    /// <summary>Retries of a chat call after a transient error (network, timeout, HTTP 408/429/5xx, malformed response). Default 6.</summary>
    public int MaxRetries { get; set; } = 6;

    /// <summary>First retry delay; doubles with each retry (exponential backoff). Default 2 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest computed retry delay. Default 60 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Adds random jitter to backoff delays (not to server-requested Retry-After delays). Default true.</summary>
    public bool RetryJitter { get; set; } = true;

    /// <summary>Longest Retry-After delay honoured; longer requests are capped to this. Default 5 min.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Timeout of one chat call attempt. Default 120 s.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The interaction pattern of the produced MAGs. Default <see cref="InteractionPattern.ReConcile"/>.</summary>
    public InteractionPattern Pattern { get; set; } = InteractionPattern.ReConcile;

    /// <summary>The prompt templates. Default <see cref="DiscussionPrompts"/> with ReConcile's wording.</summary>
    public DiscussionPrompts Prompts { get; set; } = new();

    /// <summary>Worked examples shown in round 0 (ReConcile's convincing samples). Default none.</summary>
    public IList<DiscussionDemonstration> Demonstrations { get; } = [];

    /// <summary>Checks every setting.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are invalid; the message lists all of them.</exception>
    public void Validate()
    {
        var failures = new DiscussionOptionsValidator().Validate(null, this);
        if (failures.Failed)
        {
            throw new OptionsValidationException(nameof(DiscussionOptions), typeof(DiscussionOptions), failures.Failures);
        }
    }

    internal double? RequestsPerMinuteFor(string agent) =>
        AgentRequestsPerMinute.TryGetValue(agent, out double rpm) ? rpm : RequestsPerMinute;
}

/// <summary>Validates <see cref="DiscussionOptions"/> (register with <c>services.AddSingleton&lt;IValidateOptions&lt;DiscussionOptions&gt;, DiscussionOptionsValidator&gt;()</c>).</summary>
public sealed class DiscussionOptionsValidator : IValidateOptions<DiscussionOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DiscussionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.MaxRounds < 0) errors.Add($"MaxRounds must be 0 or more (was {options.MaxRounds}).");
        if (options.MaxReasks < 0) errors.Add($"MaxReasks must be 0 or more (was {options.MaxReasks}).");
        if (options.MaxConcurrentQuestions < 1) errors.Add($"MaxConcurrentQuestions must be at least 1 (was {options.MaxConcurrentQuestions}).");
        if (options.RequestsPerMinute is { } rpm && !(rpm > 0)) errors.Add($"RequestsPerMinute must be positive (was {rpm.ToString(CultureInfo.InvariantCulture)}).");
        foreach (var (agent, value) in options.AgentRequestsPerMinute)
        {
            if (!(value > 0)) errors.Add($"AgentRequestsPerMinute[{agent}] must be positive (was {value.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (options.MaxRetries < 0) errors.Add($"MaxRetries must be 0 or more (was {options.MaxRetries}).");
        if (options.RetryBaseDelay <= TimeSpan.Zero) errors.Add($"RetryBaseDelay must be positive (was {options.RetryBaseDelay}).");
        if (options.RetryMaxDelay < options.RetryBaseDelay) errors.Add($"RetryMaxDelay ({options.RetryMaxDelay}) must be at least RetryBaseDelay ({options.RetryBaseDelay}).");
        if (options.MaxRetryAfter < TimeSpan.Zero) errors.Add($"MaxRetryAfter must not be negative (was {options.MaxRetryAfter}).");
        if (options.CallTimeout <= TimeSpan.Zero) errors.Add($"CallTimeout must be positive (was {options.CallTimeout}).");
        if (options.Pattern is null) errors.Add("Pattern is required.");
        if (options.Prompts is null) errors.Add("Prompts is required.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
