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

    /// <summary>
    /// The agents of runners made by <see cref="IDiscussionRunnerFactory"/>: the keys of the <c>IChatClient</c>s registered with
    /// <c>services.AddKeyedChatClient(name, ...)</c>, in node order. The <see cref="DiscussionRunner"/> constructor takes its
    /// agents as an argument instead and does not read this list.
    /// </summary>
    public IList<string> Agents { get; } = [];

    /// <summary>
    /// The resilience (retries, timeouts, rate limit) that <see cref="IDiscussionRunnerFactory"/> adds to an agent's client
    /// whose pipeline has no <see cref="ResilientChatClient"/> of its own. The <see cref="DiscussionRunner"/> constructor takes
    /// clients as given and does not read it.
    /// </summary>
    public ChatResilienceOptions Resilience { get; set; } = new();

    /// <summary>Per-agent overrides of <see cref="ChatResilienceOptions.RequestsPerMinute"/> in <see cref="Resilience"/>, by agent name.</summary>
    public Dictionary<string, double> AgentRequestsPerMinute { get; } = new(StringComparer.Ordinal);

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

    /// <summary>The resilience settings the factory gives <paramref name="agent"/>.</summary>
    internal ChatResilienceOptions ResilienceFor(string agent)
    {
        var options = (Resilience ?? new ChatResilienceOptions()).Clone();
        options.Name ??= agent;
        if (AgentRequestsPerMinute.TryGetValue(agent, out double rpm))
        {
            options.RequestsPerMinute = rpm;
        }

        return options;
    }
}

/// <summary>Validates <see cref="DiscussionOptions"/> for the options framework (registered by <c>AddMagDiDiscussions</c>).</summary>
internal sealed class DiscussionOptionsValidator : IValidateOptions<DiscussionOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DiscussionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.MaxRounds < 0) errors.Add($"MaxRounds must be 0 or more (was {options.MaxRounds}).");
        if (options.MaxReasks < 0) errors.Add($"MaxReasks must be 0 or more (was {options.MaxReasks}).");
        if (options.MaxConcurrentQuestions < 1) errors.Add($"MaxConcurrentQuestions must be at least 1 (was {options.MaxConcurrentQuestions}).");
        foreach (var (agent, value) in options.AgentRequestsPerMinute)
        {
            if (!(value > 0 && double.IsFinite(value))) errors.Add($"AgentRequestsPerMinute:{agent} must be positive (was {value.ToString(CultureInfo.InvariantCulture)}).");
        }

        for (int i = 0; i < options.Agents.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.Agents[i])) errors.Add($"Agents:{i} must name an agent.");
            else if (options.Agents.Take(i).Contains(options.Agents[i], StringComparer.Ordinal)) errors.Add($"Agents:{i}: the agent '{options.Agents[i]}' is listed twice.");
        }

        if (options.Resilience is null) errors.Add("Resilience is required.");
        else errors.AddRange(options.Resilience.Problems("Resilience:"));
        if (options.Pattern is null) errors.Add("Pattern is required.");
        if (options.Prompts is null) errors.Add("Prompts is required.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
