namespace MagDi.Graphs.Discussion;

/// <summary>One agent's vote: its answer and its self-reported confidence.</summary>
public sealed class AgentVote
{
    /// <summary>Creates a <see cref="AgentVote"/>.</summary>
    /// <param name="agent">The agent name.</param>
    /// <param name="answer">The canonical answer.</param>
    /// <param name="confidence">The self-reported confidence in [0,1], or <see langword="null"/> if none was given (weighs as 0).</param>
    public AgentVote(string agent, string answer, double? confidence)
    {
        Agent = agent;
        Answer = answer;
        Confidence = confidence;
    }

    /// <summary>The agent name.</summary>
    public string Agent { get; }

    /// <summary>The canonical answer.</summary>
    public string Answer { get; }

    /// <summary>The self-reported confidence in [0,1], or <see langword="null"/> if none was given (weighs as 0).</summary>
    public double? Confidence { get; }
}

/// <summary>ReConcile's confidence recalibration and confidence-weighted team vote.</summary>
public static class ConfidenceVote
{
    /// <summary>
    /// Maps a self-reported confidence to ReConcile's calibrated weight:
    /// &lt;= 0.6 gives 0.1, (0.6, 0.8) gives 0.3, [0.8, 0.9) gives 0.5, [0.9, 1) gives 0.8 and 1 gives 1.0.
    /// </summary>
    /// <param name="confidence">The confidence in [0,1].</param>
    /// <returns>The recalibrated weight.</returns>
    internal static double Recalibrate(double confidence) => confidence switch
    {
        >= 1.0 => 1.0,
        >= 0.9 => 0.8,
        >= 0.8 => 0.5,
        > 0.6 => 0.3,
        _ => 0.1,
    };

    /// <summary>
    /// The team answer: the answer with the largest sum of recalibrated confidences. Ties go to the answer
    /// with more votes, then to the answer whose first voter comes first.
    /// </summary>
    /// <param name="votes">The votes of the agents that gave a valid answer.</param>
    /// <returns>The team answer, or <see langword="null"/> when there are no votes.</returns>
    public static string? TeamAnswer(IEnumerable<AgentVote> votes)
    {
        ArgumentNullException.ThrowIfNull(votes);
        var tally = Tally(votes);
        return tally.Count == 0 ? null : tally[0].Answer;
    }

    /// <summary>The answers with their total recalibrated weight and vote count, best first (the order of <see cref="TeamAnswer"/>).</summary>
    /// <param name="votes">The votes.</param>
    /// <returns>One entry per distinct answer.</returns>
    internal static IReadOnlyList<(string Answer, double Weight, int Votes)> Tally(IEnumerable<AgentVote> votes)
    {
        ArgumentNullException.ThrowIfNull(votes);
        var order = new List<string>();
        var weight = new Dictionary<string, (double W, int N)>(StringComparer.Ordinal);
        foreach (var v in votes)
        {
            if (!weight.TryGetValue(v.Answer, out var t))
            {
                order.Add(v.Answer);
                t = (0, 0);
            }

            weight[v.Answer] = (t.W + Recalibrate(v.Confidence ?? 0), t.N + 1);
        }

        return order
            .Select((a, i) => (Answer: a, Weight: weight[a].W, Votes: weight[a].N, Index: i))
            .OrderByDescending(x => Math.Round(x.Weight, 9)).ThenByDescending(x => x.Votes).ThenBy(x => x.Index)
            .Select(x => (x.Answer, x.Weight, x.Votes))
            .ToList();
    }
}
