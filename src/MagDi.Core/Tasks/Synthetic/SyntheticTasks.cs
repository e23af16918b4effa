namespace MagDi.Tasks.Synthetic;

/// <summary>
/// The reasoning tasks of the built-in synthetic benchmark: <c>synthetic-arithmetic</c> (numeric answers)
/// and <c>synthetic-comparison</c> (yes/no answers).
/// </summary>
public static class SyntheticTasks
{

    /// <summary>The arithmetic family's task (numeric answers).</summary>
    public static NumericTask Arithmetic { get; } = new(SyntheticBenchmark.ArithmeticTaskName);

    /// <summary>The comparison family's task (yes/no answers).</summary>
    public static YesNoTask Comparison { get; } = new(SyntheticBenchmark.ComparisonTaskName);

    /// <summary>
    /// Makes sure both tasks are in <see cref="ReasoningTasks"/>. They are built in (registered with the other tasks), so
    /// this only forces that registration; kept for callers that want to be explicit.
    /// </summary>
    public static void EnsureRegistered() => _ = ReasoningTasks.Get(Arithmetic.Name);

    /// <summary>The task of a problem family.</summary>
    /// <param name="family">The family.</param>
    /// <returns>The task.</returns>
    public static ReasoningTask For(SyntheticFamily family) => family == SyntheticFamily.Arithmetic ? Arithmetic : Comparison;

    /// <summary>A synthetic problem as a benchmark <see cref="Question"/> of its family's task.</summary>
    /// <param name="problem">The problem.</param>
    /// <returns>The question (id, task name, text and gold answer).</returns>
    public static Question ToQuestion(this SyntheticProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return new Question(problem.Id, For(problem.Family).Name, problem.Text, problem.GoldAnswer);
    }
}
