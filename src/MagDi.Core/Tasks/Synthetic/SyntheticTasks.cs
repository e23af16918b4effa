namespace MagDi.Tasks.Synthetic;

/// <summary>
/// The reasoning tasks of the built-in synthetic benchmark: <c>synthetic-arithmetic</c> (numeric answers)
/// and <c>synthetic-comparison</c> (yes/no answers).
/// </summary>
public static class SyntheticTasks
{
    private static readonly Lock Gate = new();
    private static bool _registered;

    /// <summary>The arithmetic family's task (numeric answers).</summary>
    public static NumericTask Arithmetic { get; } = new(SyntheticBenchmark.ArithmeticTaskName);

    /// <summary>The comparison family's task (yes/no answers).</summary>
    public static YesNoTask Comparison { get; } = new(SyntheticBenchmark.ComparisonTaskName);

    /// <summary>Adds both tasks to <see cref="ReasoningTasks"/> (once; later calls do nothing).</summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            ReasoningTasks.Register(Arithmetic);
            ReasoningTasks.Register(Comparison);
            _registered = true;
        }
    }

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
