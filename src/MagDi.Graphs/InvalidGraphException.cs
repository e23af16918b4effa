namespace MagDi.Graphs;

/// <summary>One reason a graph is invalid.</summary>
public sealed class GraphProblem
{
    /// <summary>Creates a <see cref="GraphProblem"/>.</summary>
    /// <param name="field">The offending field, for example <c>nodes[4].confidence</c> or <c>task</c>.</param>
    /// <param name="reason">What is wrong.</param>
    public GraphProblem(string field, string reason)
    {
        Field = field;
        Reason = reason;
    }

    /// <summary>The offending field, for example <c>nodes[4].confidence</c> or <c>task</c>.</summary>
    public string Field { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Reason}";
}

/// <summary>Thrown by <see cref="InteractionGraphBuilder.Build"/> with every problem found in the graph.</summary>
public sealed class InvalidGraphException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InvalidGraphException()
        : this([new GraphProblem("graph", "invalid")])
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public InvalidGraphException(string message)
        : base(message)
    {
        Problems = [new GraphProblem("graph", message)];
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public InvalidGraphException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [new GraphProblem("graph", message)];
    }

    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="problems">Every problem found.</param>
    public InvalidGraphException(IReadOnlyList<GraphProblem> problems)
        : base(FormatMessage(problems))
    {
        Problems = problems;
    }

    /// <summary>Every problem found, in the order checked.</summary>
    public IReadOnlyList<GraphProblem> Problems { get; }

    private static string FormatMessage(IReadOnlyList<GraphProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        return problems.Count == 1
            ? $"Invalid interaction graph: {problems[0]}."
            : $"Invalid interaction graph ({problems.Count} problems): " + string.Join("; ", problems) + ".";
    }
}
