namespace MagDi.Tasks;

/// <summary>A task whose answers are short free text, compared case-insensitively with whitespace collapsed and surrounding punctuation removed.</summary>
public sealed class FreeTextTask : ReasoningTask
{
    /// <summary>Creates a free-text task.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="aliases">Other names for the task.</param>
    public FreeTextTask(string name, IEnumerable<string>? aliases = null)
        : base(name, aliases)
    {
    }

    /// <inheritdoc />
    public override AnswerKind Kind => AnswerKind.FreeText;

    /// <inheritdoc />
    public override string AnswerFormatInstruction => "End with \"So the answer is X\" where X is a short answer.";

    /// <inheritdoc />
    public override string? Normalize(string? answer)
    {
        if (answer is null)
        {
            return null;
        }

        var s = AnswerText.Collapse(AnswerText.StripDecoration(answer)).Trim('.', ',', ';', ':', '!', '?', ' ');
        return s.Length == 0 ? null : s;
    }
}
