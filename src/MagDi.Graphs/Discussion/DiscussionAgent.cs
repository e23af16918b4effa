using Microsoft.Extensions.AI;

namespace MagDi.Graphs.Discussion;

/// <summary>A teacher taking part in discussions: a named <see cref="IChatClient"/>.</summary>
public sealed class DiscussionAgent
{
    /// <summary>Creates a <see cref="DiscussionAgent"/>.</summary>
    /// <param name="name">The agent name used in the MAG (for example <c>gpt4</c>, <c>claude</c>, <c>bard</c>); unique within a discussion.</param>
    /// <param name="client">The chat client (OpenAI, Azure OpenAI, Ollama, any OpenAI-compatible server, or a <see cref="Simulation.SimulatedTeacher"/> in demos and tests); its pipeline carries retries, caching and logging (see <see cref="DiscussionRunner"/>).</param>
    /// <param name="options">Options sent with every request (model id, temperature, ...); <see langword="null"/> for the client's defaults.</param>
    public DiscussionAgent(string name, IChatClient client, ChatOptions? options = null)
    {
        Name = name;
        Client = client;
        Options = options;
    }

    /// <summary>The agent name used in the MAG (for example <c>gpt4</c>, <c>claude</c>, <c>bard</c>); unique within a discussion.</summary>
    public string Name { get; }

    /// <summary>The chat client (OpenAI, Azure OpenAI, Ollama, any OpenAI-compatible server, or a <see cref="Simulation.SimulatedTeacher"/> in demos and tests); its pipeline carries retries, caching and logging (see <see cref="DiscussionRunner"/>).</summary>
    public IChatClient Client { get; }

    /// <summary>Options sent with every request (model id, temperature, ...); <see langword="null"/> for the client's defaults.</summary>
    public ChatOptions? Options { get; }
}

/// <summary>Token counts summed over calls.</summary>
public readonly struct TokenUsage
{
    /// <summary>Creates a <see cref="TokenUsage"/>.</summary>
    /// <param name="inputTokens">Prompt tokens.</param>
    /// <param name="outputTokens">Completion tokens.</param>
    /// <param name="totalTokens">Total tokens (the provider's total when it reports one, else input + output).</param>
    /// <param name="calls">Successful chat calls counted.</param>
    public TokenUsage(long inputTokens, long outputTokens, long totalTokens, int calls)
    {
        InputTokens = inputTokens;
        OutputTokens = outputTokens;
        TotalTokens = totalTokens;
        Calls = calls;
    }

    /// <summary>Prompt tokens.</summary>
    public long InputTokens { get; }

    /// <summary>Completion tokens.</summary>
    public long OutputTokens { get; }

    /// <summary>Total tokens (the provider's total when it reports one, else input + output).</summary>
    public long TotalTokens { get; }

    /// <summary>Successful chat calls counted.</summary>
    public int Calls { get; }

    /// <summary>Usage of one call from the provider's <see cref="UsageDetails"/> (missing counts are 0).</summary>
    /// <param name="usage">The usage details, possibly <see langword="null"/>.</param>
    /// <returns>The usage of one call.</returns>
    internal static TokenUsage FromDetails(UsageDetails? usage)
    {
        long input = usage?.InputTokenCount ?? 0;
        long output = usage?.OutputTokenCount ?? 0;
        return new TokenUsage(input, output, usage?.TotalTokenCount ?? (input + output), 1);
    }

    /// <summary>Adds two usages.</summary>
    /// <param name="left">The first usage.</param>
    /// <param name="right">The second usage.</param>
    /// <returns>The sum.</returns>
    public static TokenUsage operator +(TokenUsage left, TokenUsage right) =>
        new(left.InputTokens + right.InputTokens, left.OutputTokens + right.OutputTokens, left.TotalTokens + right.TotalTokens, left.Calls + right.Calls);

    /// <summary>Adds two usages.</summary>
    /// <param name="other">The usage to add.</param>
    /// <returns>The sum.</returns>
    public TokenUsage Add(TokenUsage other) => this + other;
}
