namespace MagDi.Graphs.Discussion;

/// <summary>The outcome of discussing one question.</summary>
public sealed class DiscussionResult
{
    internal DiscussionResult(InteractionGraph graph, string? teamAnswer, bool teamCorrect, bool consensus, IReadOnlyDictionary<string, TokenUsage> agentUsage, int reasks)
    {
        Graph = graph;
        TeamAnswer = teamAnswer;
        TeamCorrect = teamCorrect;
        Consensus = consensus;
        AgentUsage = agentUsage;
        Reasks = reasks;
    }

    /// <summary>The MAG: one node per agent and round, correctness labels from the task logic, edges from the chosen pattern.</summary>
    public InteractionGraph Graph { get; }

    /// <summary>The confidence-weighted vote of the last round's valid answers; <see langword="null"/> when no answer in that round was valid.</summary>
    public string? TeamAnswer { get; }

    /// <summary>Whether <see cref="TeamAnswer"/> matches the gold answer.</summary>
    public bool TeamCorrect { get; }

    /// <summary>Whether the discussion ended because all agents agreed (rather than at the round limit).</summary>
    public bool Consensus { get; }

    /// <summary>Token usage of this question by agent (re-asks included).</summary>
    public IReadOnlyDictionary<string, TokenUsage> AgentUsage { get; }

    /// <summary>Re-asks sent because a reply could not be parsed.</summary>
    public int Reasks { get; }

    /// <summary>Token usage of this question over all agents.</summary>
    public TokenUsage TotalUsage => AgentUsage.Values.Aggregate(default(TokenUsage), (a, b) => a + b);

    /// <summary>Nodes recorded as invalid (unparseable after the re-asks).</summary>
    public int InvalidNodes => Graph.Nodes.Count(n => !n.IsValid);
}

/// <summary>Progress of <see cref="DiscussionRunner.RunAsync"/>, reported after each question finishes or fails.</summary>
public sealed class DiscussionProgress
{
    internal DiscussionProgress(string questionId, int completed, int skipped, int failed, int total, DiscussionResult? result, TokenUsage runningTotal, IReadOnlyDictionary<string, TokenUsage> runningTotalByAgent)
    {
        QuestionId = questionId;
        Completed = completed;
        Skipped = skipped;
        Failed = failed;
        Total = total;
        Result = result;
        RunningTotal = runningTotal;
        RunningTotalByAgent = runningTotalByAgent;
    }

    /// <summary>The question that just finished or failed.</summary>
    public string QuestionId { get; }

    /// <summary>Questions written by this run so far.</summary>
    public int Completed { get; }

    /// <summary>Questions skipped because the output already had them.</summary>
    public int Skipped { get; }

    /// <summary>Questions that failed in this run (not written; a rerun retries them).</summary>
    public int Failed { get; }

    /// <summary>Questions in the input.</summary>
    public int Total { get; }

    /// <summary>The finished discussion, or <see langword="null"/> when the question failed.</summary>
    public DiscussionResult? Result { get; }

    /// <summary>Token usage of every question in the output file so far (earlier runs included).</summary>
    public TokenUsage RunningTotal { get; }

    /// <summary>The running total by agent.</summary>
    public IReadOnlyDictionary<string, TokenUsage> RunningTotalByAgent { get; }
}

/// <summary>What <see cref="DiscussionRunner.RunAsync"/> did.</summary>
public sealed class DiscussionRunSummary
{
    internal DiscussionRunSummary(string outputPath, string usagePath, int written, int skipped, IReadOnlyList<string> failedQuestionIds, IReadOnlyDictionary<int, int> graphTypes, int teamCorrect, TokenUsage runningTotal, IReadOnlyDictionary<string, TokenUsage> runningTotalByAgent)
    {
        OutputPath = outputPath;
        UsagePath = usagePath;
        Written = written;
        Skipped = skipped;
        FailedQuestionIds = failedQuestionIds;
        GraphTypes = graphTypes;
        TeamCorrect = teamCorrect;
        RunningTotal = runningTotal;
        RunningTotalByAgent = runningTotalByAgent;
    }

    /// <summary>The MAG corpus (JSON lines).</summary>
    public string OutputPath { get; }

    /// <summary>The usage log next to it (JSON lines: one entry per written MAG).</summary>
    public string UsagePath { get; }

    /// <summary>MAGs written by this run.</summary>
    public int Written { get; }

    /// <summary>Questions skipped because the output already had them.</summary>
    public int Skipped { get; }

    /// <summary>Questions that failed (not written; a rerun retries them).</summary>
    public IReadOnlyList<string> FailedQuestionIds { get; }

    /// <summary>How many MAGs of each type G_k this run wrote, by k.</summary>
    public IReadOnlyDictionary<int, int> GraphTypes { get; }

    /// <summary>MAGs of this run whose team answer was correct.</summary>
    public int TeamCorrect { get; }

    /// <summary>Token usage of everything in the output (earlier runs included).</summary>
    public TokenUsage RunningTotal { get; }

    /// <summary>The running total by agent.</summary>
    public IReadOnlyDictionary<string, TokenUsage> RunningTotalByAgent { get; }
}
