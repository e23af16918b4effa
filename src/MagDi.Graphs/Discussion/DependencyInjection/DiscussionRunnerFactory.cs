using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Makes <see cref="DiscussionRunner"/>s configured from the container: the <see cref="DiscussionOptions"/> registered by
/// <c>services.AddMagDiDiscussions(...)</c>, the agents' chat clients resolved by name (keyed services), the logger and
/// the <see cref="TimeProvider"/>.
/// </summary>
public interface IDiscussionRunnerFactory
{
    /// <summary>
    /// A runner over the agents <see cref="DiscussionOptions.Agents"/> names. Each agent's client is the
    /// <see cref="IChatClient"/> registered with that name as key (<c>services.AddKeyedChatClient("gpt4", ...)</c>);
    /// a client whose pipeline has no <see cref="ResilientChatClient"/> gets one with <see cref="DiscussionOptions.Resilience"/>.
    /// </summary>
    /// <returns>The runner. The clients stay owned by the container.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid, name no agent, or name an agent without a registered client; the message lists every problem.</exception>
    DiscussionRunner Create();
}

/// <summary>The container's <see cref="IDiscussionRunnerFactory"/>.</summary>
internal sealed class DiscussionRunnerFactory(
    IServiceProvider services, IOptionsMonitor<DiscussionOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    : IDiscussionRunnerFactory
{
    public DiscussionRunner Create()
    {
        // The monitor validates (every registered validator, all failures in one exception).
        var settings = options.CurrentValue;
        var problems = new List<string>();
        if (settings.Agents.Count == 0)
        {
            problems.Add(DiscussionAgentsValidator.NoAgents);
        }

        var agents = new List<DiscussionAgent>();
        foreach (string name in settings.Agents)
        {
            var client = services.GetKeyedService<IChatClient>(name);
            if (client is null)
            {
                problems.Add($"Agents: no IChatClient is registered with the key '{name}' (services.AddKeyedChatClient(\"{name}\", ...)).");
                continue;
            }

            if (client.GetService<ResilientChatClient>() is null)
            {
                client = new ResilientChatClient(client, settings.ResilienceFor(name), loggerFactory?.CreateLogger<ResilientChatClient>(), timeProvider);
            }

            agents.Add(new DiscussionAgent(name, client));
        }

        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(DiscussionOptions), problems);
        }

        return new DiscussionRunner(agents, settings, loggerFactory?.CreateLogger<DiscussionRunner>());
    }
}

/// <summary>
/// At start-up (<c>ValidateOnStart</c>), checks that <see cref="DiscussionOptions.Agents"/> names at least one agent and
/// that every agent it names has a keyed <see cref="IChatClient"/>, without creating any client.
/// </summary>
internal sealed class DiscussionAgentsValidator(IServiceProvider services) : IValidateOptions<DiscussionOptions>
{
    public const string NoAgents = "Agents must name at least one agent (the key of an IChatClient registered with AddKeyedChatClient).";

    public ValidateOptionsResult Validate(string? name, DiscussionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (services.GetService<IServiceProviderIsKeyedService>() is not { } keyed)
        {
            return ValidateOptionsResult.Skip;
        }

        var problems = options.Agents
            .Where(a => !string.IsNullOrWhiteSpace(a) && !keyed.IsKeyedService(typeof(IChatClient), a))
            .Select(a => $"Agents: no IChatClient is registered with the key '{a}' (services.AddKeyedChatClient(\"{a}\", ...)).")
            .ToList();
        if (options.Agents.Count == 0)
        {
            problems.Add(NoAgents);
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
