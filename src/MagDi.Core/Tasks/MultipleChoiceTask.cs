using System.Text.RegularExpressions;

namespace MagDi.Tasks;

/// <summary>
/// A multiple-choice task (CommonsenseQA/ECQA, ARC, AQuA). Canonical answers are the option label
/// in upper case (<c>A</c>..<c>J</c>) or the option number (<c>1</c>..<c>9</c>) as the benchmark labels it.
/// </summary>
/// <remarks>
/// Recognised forms include <c>B</c>, <c>(b)</c>, <c>B)</c>, <c>B.</c>, <c>B: bank</c>, <c>(B) bank</c>,
/// <c>Option B</c>, <c>choice (C)</c> and <c>3</c>. An answer that is not a label normalises to its
/// lower-cased text, so option texts can still be compared with each other.
/// </remarks>
public sealed partial class MultipleChoiceTask : ReasoningTask
{
    /// <summary>Creates a multiple-choice task.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="aliases">Other names for the task.</param>
    public MultipleChoiceTask(string name, IEnumerable<string>? aliases = null)
        : base(name, aliases)
    {
    }

    /// <inheritdoc />
    public override AnswerKind Kind => AnswerKind.MultipleChoice;

    /// <inheritdoc />
    public override string AnswerFormatInstruction => "Answer with the label of one option. End with \"So the answer is (X)\" where X is the option label.";

    /// <inheritdoc />
    public override string? Normalize(string? answer)
    {
        if (answer is null)
        {
            return null;
        }

        var s = AnswerText.StripDecoration(answer);
        s = PrefixRegex().Replace(s, string.Empty).Trim();
        if (s.Length == 0)
        {
            return null;
        }

        var m = LabelRegex().Match(s);
        if (m.Success)
        {
            return m.Groups["l"].Value.ToUpperInvariant();
        }

        m = LowerLabelRegex().Match(s);
        if (m.Success)
        {
            return m.Groups["l"].Value.ToUpperInvariant();
        }

        var text = AnswerText.Collapse(s).Trim('.', ',', ';', ':', '!', '?', ' ');
        return text.Length == 0 ? null : text;
    }

    /// <summary>Maps an answer to an option label of <paramref name="question"/>, accepting an option's text as well as its label.</summary>
    /// <param name="answer">The answer.</param>
    /// <param name="question">The question whose choices to match.</param>
    /// <returns>The label, or <see langword="null"/> when the answer matches no option.</returns>
    public string? ResolveLabel(string? answer, Question question)
    {
        ArgumentNullException.ThrowIfNull(question);
        if (Normalize(answer) is not { } n)
        {
            return null;
        }

        foreach (var c in question.Choices)
        {
            if (string.Equals(c.Label, n, StringComparison.OrdinalIgnoreCase)
                || string.Equals(AnswerText.Collapse(c.Text), n, StringComparison.Ordinal))
            {
                return c.Label.ToUpperInvariant();
            }
        }

        return null;
    }

    /// <inheritdoc />
    protected override string? CleanCandidate(string candidate)
    {
        var s = AnswerText.StripDecoration(candidate);
        s = PrefixRegex().Replace(s, string.Empty).Trim();
        var m = LabelRegex().Match(s);
        if (m.Success)
        {
            return m.Groups["l"].Value.ToUpperInvariant();
        }

        m = LowerLabelRegex().Match(s);
        if (m.Success)
        {
            return m.Groups["l"].Value.ToUpperInvariant();
        }

        // "the answer is bank (B)" or "... is option (c)".
        string? last = null;
        foreach (Match p in ParenthesisedRegex().Matches(s))
        {
            last = p.Groups["l"].Value.ToUpperInvariant();
        }

        return last ?? Normalize(s);
    }

    /// <inheritdoc />
    protected override string? ExtractFallback(string freeText)
    {
        string? last = null;
        foreach (Match p in ParenthesisedRegex().Matches(freeText))
        {
            last = p.Groups["l"].Value.ToUpperInvariant();
        }

        return last;
    }

    [GeneratedRegex(@"^(?:(?:the\s+)?(?:correct\s+)?(?:option|choice|answer)\s*(?:is\s*)?:?\s*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PrefixRegex();

    // An upper-case label, or a lower-case label in brackets, followed by a delimiter or the end.
    [GeneratedRegex(@"^[(\[]?(?<l>[A-J]|[1-9])(?:[)\]](?:\s|$|[.:,])|[.:,)](?:\s|$)|\s*$|\s+[-–:]?\s*\S)|^[(\[](?<l>[a-j])[)\]]", RegexOptions.CultureInvariant)]
    private static partial Regex LabelRegex();

    // A bare lower-case label on its own ("b", "b.", "b)").
    [GeneratedRegex(@"^(?<l>[a-j])\s*[.):]?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex LowerLabelRegex();

    [GeneratedRegex(@"\((?<l>[A-Ea-e])\)", RegexOptions.CultureInvariant)]
    private static partial Regex ParenthesisedRegex();
}
