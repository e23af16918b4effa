using System.Text.RegularExpressions;

namespace MagDi.Tasks;

/// <summary>A task whose answers are yes or no (StrategyQA, BoolQ). Canonical answers are <c>yes</c> and <c>no</c>.</summary>
/// <remarks>
/// <c>true</c>/<c>false</c> (the benchmarks' booleans) normalise to <c>yes</c>/<c>no</c>, and so do
/// replies that start with the word, such as <c>"Yes, because..."</c>.
/// </remarks>
public sealed partial class YesNoTask : ReasoningTask
{
    /// <summary>Creates a yes/no task.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="aliases">Other names for the task.</param>
    public YesNoTask(string name, IEnumerable<string>? aliases = null)
        : base(name, aliases)
    {
    }

    /// <inheritdoc />
    public override AnswerKind Kind => AnswerKind.YesNo;

    /// <inheritdoc />
    public override string AnswerFormatInstruction => "Answer with yes or no. End with \"So the answer is yes\" or \"So the answer is no\".";

    /// <inheritdoc />
    public override string? Normalize(string? answer)
    {
        if (answer is null)
        {
            return null;
        }

        var m = LeadingWordRegex().Match(AnswerText.StripDecoration(answer));
        if (!m.Success)
        {
            return null;
        }

        return m.Groups["w"].Value.ToUpperInvariant() switch
        {
            "YES" or "TRUE" or "1" => "yes",
            "NO" or "FALSE" or "0" => "no",
            _ => null,
        };
    }

    /// <inheritdoc />
    protected override string? ExtractFallback(string freeText)
    {
        string? last = null;
        foreach (Match m in AnyYesNoRegex().Matches(freeText))
        {
            last = m.Value;
        }

        return Normalize(last);
    }

    [GeneratedRegex(@"^[\s(\[{""'*]*(?<w>yes|no|true|false|1|0)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex LeadingWordRegex();

    [GeneratedRegex(@"\b(yes|no)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AnyYesNoRegex();
}
