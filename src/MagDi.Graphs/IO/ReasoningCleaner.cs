using System.Text.RegularExpressions;

namespace MagDi.Graphs.IO;

/// <summary>The optional reasoning clean-up of the authors' release.</summary>
public static partial class ReasoningCleaner
{
    /// <summary>
    /// Removes every sentence that starts with "I agree" or "I disagree" (case-insensitive), keeping the
    /// other sentences and their order. Sentences end at <c>.</c>, <c>!</c> or <c>?</c> followed by white space.
    /// </summary>
    /// <param name="reasoning">The reasoning text.</param>
    /// <returns>The cleaned text (trimmed).</returns>
    public static string RemoveAgreementSentences(string reasoning)
    {
        ArgumentNullException.ThrowIfNull(reasoning);
        var sentences = SentenceBoundary().Split(reasoning.Trim());
        return string.Join(" ", sentences.Where(s => !AgreementStart().IsMatch(s))).Trim();
    }

    [GeneratedRegex(@"(?<=[.!?])\s+", RegexOptions.CultureInvariant)]
    private static partial Regex SentenceBoundary();

    [GeneratedRegex(@"^\s*I\s+(?:dis)?agree\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AgreementStart();
}
