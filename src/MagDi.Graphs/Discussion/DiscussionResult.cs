namespace MagDi.Graphs.Discussion;

/// <summary>The outcome of discussing one question.</summary>
/// <param name="Graph">The MAG: one node per agent and round, correctness labels from the task logic, edges from the chosen pattern.</param>
/// <param name="TeamAnswer">The confidence-weighted vote of the last round's valid answers; <see langword="null"/> when no answer in that round was valid.</param>
/// <param name="TeamCorrect">Whether <paramref name="TeamAnswer"/> matches the gold answer.</param>
/// <param name="Consensus">Whether the discussion ended because all agents agreed (rather than at the round limit).</param>
/// <param name="AgentUsage">Token usage of this question by agent (re-asks included).</param>
/// <param name="Reasks">Re-asks sent because a reply could not be parsed.</param>
public sealed record DiscussionResult(
    InteractionGraph Graph,
    string? TeamAnswer,
    bool TeamCorrect,
    bool Consensus,
    IReadOnlyDictionary<string, TokenUsage> AgentUsage,
    int Reasks)
{
    /// <summary>Token usage of this question over all agents.</summary>
    public TokenUsage TotalUsage => AgentUsage.Values.Aggregate(default(TokenUsage), (a, b) => a + b);

    /// <summary>Nodes recorded as invalid (unparseable after the re-asks).</summary>
    public int InvalidNodes => Graph.Nodes.Count(n => !n.IsValid);
}

/// <summary>Progress of <see cref="DiscussionRunner.RunAsync"/>, reported after each question finishes or fails.</summary>
/// <param name="QuestionId">The question that just finished or failed.</param>
/// <param name="Completed">Questions written by this run so far.</param>
/// <param name="Skipped">Questions skipped because the output already had them.</param>
/// <param name="Failed">Questions that failed in this run (not written; a rerun retries them).</param>
/// <param name="Total">Questions in the input.</param>
/// <param name="Result">The finished discussion, or <see langword="null"/> when the question failed.</param>
/// <param name="RunningTotal">Token usage of every question in the output file so far (earlier runs included).</param>
/// <param name="RunningTotalByAgent">The running total by agent.</param>
public sealed record DiscussionProgress(
    string QuestionId,
    int Completed,
    int Skipped,
    int Failed,
    int Total,
    DiscussionResult? Result,
    TokenUsage RunningTotal,
    IReadOnlyDictionary<string, TokenUsage> RunningTotalByAgent);

/// <summary>What <see cref="DiscussionRunner.RunAsync"/> did.</summary>
/// <param name="OutputPath">The MAG corpus (JSON lines).</param>
/// <param name="UsagePath">The usage log next to it (JSON lines: one entry per written MAG).</param>
/// <param name="Written">MAGs written by this run.</param>
/// <param name="Skipped">Questions skipped because the output already had them.</param>
/// <param name="FailedQuestionIds">Questions that failed (not written; a rerun retries them).</param>
/// <param name="GraphTypes">How many MAGs of each type G_k this run wrote, by k.</param>
/// <param name="TeamCorrect">MAGs of this run whose team answer was correct.</param>
/// <param name="RunningTotal">Token usage of everything in the output (earlier runs included).</param>
/// <param name="RunningTotalByAgent">The running total by agent.</param>
public sealed record DiscussionRunSummary(
    string OutputPath,
    string UsagePath,
    int Written,
    int Skipped,
    IReadOnlyList<string> FailedQuestionIds,
    IReadOnlyDictionary<int, int> GraphTypes,
    int TeamCorrect,
    TokenUsage RunningTotal,
    IReadOnlyDictionary<string, TokenUsage> RunningTotalByAgent);
