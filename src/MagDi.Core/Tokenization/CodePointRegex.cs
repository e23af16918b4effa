using System.Globalization;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

/// <summary>
/// Runs a pre-tokenization regex with code-point semantics. .NET regexes see a supplementary-plane character as two
/// surrogates (category Cs), while the Rust (Oniguruma) and JavaScript (/u) regexes of the reference implementations
/// see one code point: "𝒳" is a letter to them. Letters, numbers and marks outside the BMP are therefore replaced by a
/// BMP stand-in of the same Unicode category before matching, and the matches are mapped back to the original text.
/// Other supplementary characters (emoji: So) keep their surrogates, which the usual patterns classify the same way.
/// </summary>
internal static class CodePointRegex
{
    private static readonly Dictionary<UnicodeCategory, char> s_standIns = new()
    {
        [UnicodeCategory.UppercaseLetter] = '\uA7B4',
        [UnicodeCategory.LowercaseLetter] = '\uA7B5',
        [UnicodeCategory.TitlecaseLetter] = '\u01C5',
        [UnicodeCategory.ModifierLetter] = '\uA717',
        [UnicodeCategory.OtherLetter] = '\uA000',
        [UnicodeCategory.DecimalDigitNumber] = '\uA620',
        [UnicodeCategory.LetterNumber] = '\u2181',
        [UnicodeCategory.OtherNumber] = '\u2474',
        [UnicodeCategory.NonSpacingMark] = '\uA66F',
        [UnicodeCategory.SpacingCombiningMark] = '\uA823',
        [UnicodeCategory.EnclosingMark] = '\uA670',
    };

    /// <summary>The (index, length) of every non-empty match, in the original text's UTF-16 indices.</summary>
    /// <exception cref="InvalidDataException">A pattern read from a tokenizer file (<see cref="FileRegex"/>) timed out.</exception>
    public static List<(int Index, int Length)> Matches(Regex regex, string text)
    {
        try
        {
            return MatchesUnchecked(regex, text);
        }
        catch (RegexMatchTimeoutException ex)
        {
            throw FileRegex.Explain(regex, ex);
        }
    }

    private static List<(int Index, int Length)> MatchesUnchecked(Regex regex, string text)
    {
        var result = new List<(int, int)>();
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF') < 0)
        {
            foreach (ValueMatch m in regex.EnumerateMatches(text))
            {
                if (m.Length > 0)
                {
                    result.Add((m.Index, m.Length));
                }
            }

            return result;
        }

        // Substitute, remembering where each char of the substituted text starts in the original.
        var chars = new char[text.Length];
        var origin = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            origin[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) &&
                s_standIns.TryGetValue(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])), out char standIn))
            {
                chars[n++] = standIn;
                i++;
                continue;
            }

            chars[n++] = text[i];
        }

        origin[n] = text.Length;
        string substituted = new(chars, 0, n);
        foreach (ValueMatch m in regex.EnumerateMatches(substituted))
        {
            if (m.Length > 0)
            {
                int start = origin[m.Index];
                result.Add((start, origin[m.Index + m.Length] - start));
            }
        }

        return result;
    }
}
