namespace MagDi.Graphs;

/// <summary>
/// One node of a Multi-Agent Interaction Graph: what one agent said in one round.
/// </summary>
/// <param name="Agent">The agent's name (for example <c>claude</c>, <c>gpt4</c>, <c>bard</c>).</param>
/// <param name="Round">The discussion round, starting at 0 (the pre-interaction answer).</param>
/// <param name="Reasoning">The agent's reasoning chain.</param>
/// <param name="Answer">The agent's answer as it stated it; <see langword="null"/> when it gave none.</param>
/// <param name="Confidence">The self-reported confidence in [0,1], when the agent gave one.</param>
/// <param name="IsCorrect">Whether <paramref name="Answer"/> matches the gold answer under the task's answer logic.</param>
public sealed record MagNode(string Agent, int Round, string Reasoning, string? Answer, double? Confidence, bool IsCorrect)
{
    /// <summary>
    /// Whether the agent's reply could be parsed. An invalid node keeps the raw reply in <see cref="RawText"/>
    /// and is never correct. Defaults to <see langword="true"/>.
    /// </summary>
    public bool IsValid { get; init; } = true;

    /// <summary>The agent's raw reply when it could not be parsed; otherwise usually <see langword="null"/>.</summary>
    public string? RawText { get; init; }
}
