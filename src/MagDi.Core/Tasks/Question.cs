namespace MagDi.Tasks;

/// <summary>One answer option of a multiple-choice question, for example <c>(B) bank</c>.</summary>
/// <param name="Label">The option label as the benchmark writes it (<c>A</c>..<c>E</c>, or <c>1</c>..<c>5</c> in some ARC items).</param>
/// <param name="Text">The option text.</param>
public sealed record AnswerChoice(string Label, string Text);

/// <summary>
/// A benchmark question with its gold answer. Questions are what benchmark readers produce, what
/// teachers discuss and what a student is evaluated on.
/// </summary>
/// <param name="Id">A stable identifier, unique within a benchmark split.</param>
/// <param name="Task">The name of the <see cref="ReasoningTask"/> the question belongs to (for example <c>gsm8k</c>).</param>
/// <param name="Text">The question text (for reading-comprehension tasks such as BoolQ, including the passage).</param>
/// <param name="Choices">The answer options; empty when the task has none.</param>
/// <param name="GoldAnswer">The gold answer as the benchmark states it (a label, <c>yes</c>/<c>no</c>, a number or a LaTeX expression).</param>
public sealed record Question(string Id, string Task, string Text, IReadOnlyList<AnswerChoice> Choices, string GoldAnswer)
{
    /// <summary>Creates a question without answer choices.</summary>
    /// <param name="id">A stable identifier.</param>
    /// <param name="task">The task name.</param>
    /// <param name="text">The question text.</param>
    /// <param name="goldAnswer">The gold answer.</param>
    public Question(string id, string task, string text, string goldAnswer)
        : this(id, task, text, [], goldAnswer)
    {
    }

    /// <summary>The answer options; never <see langword="null"/>, empty when the task has none.</summary>
    public IReadOnlyList<AnswerChoice> Choices { get; init; } = Choices ?? [];

    /// <summary>Compares two questions by value, including the answer choices element by element.</summary>
    /// <param name="other">The question to compare with.</param>
    /// <returns><see langword="true"/> when every field is equal.</returns>
    public bool Equals(Question? other) =>
        other is not null
        && string.Equals(Id, other.Id, StringComparison.Ordinal)
        && string.Equals(Task, other.Task, StringComparison.Ordinal)
        && string.Equals(Text, other.Text, StringComparison.Ordinal)
        && string.Equals(GoldAnswer, other.GoldAnswer, StringComparison.Ordinal)
        && Choices.SequenceEqual(other.Choices);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, Task, Text, GoldAnswer, Choices.Count);
}
