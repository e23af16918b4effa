using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MagDi.Tasks;

/// <summary>Shared text helpers for answer extraction.</summary>
internal static partial class AnswerText
{
    /// <summary>Answer candidates in priority order: JSON answer field, \boxed{}, "the answer is" phrase (last occurrence of each).</summary>
    public static IEnumerable<string> Candidates(string text)
    {
        if (JsonAnswer(text) is { } json)
        {
            yield return json;
        }

        if (LastBoxed(text) is { } boxed)
        {
            yield return boxed;
        }

        if (AnswerIsPhrase(text) is { } phrase)
        {
            yield return phrase;
        }
    }

    /// <summary>The value of the last <c>"answer": ...</c> field (string, number or boolean), tolerating single quotes.</summary>
    public static string? JsonAnswer(string text)
    {
        Match? last = null;
        foreach (Match m in JsonAnswerRegex().Matches(text))
        {
            last = m;
        }

        if (last is null)
        {
            return null;
        }

        if (last.Groups["dq"].Success)
        {
            try
            {
                return JsonSerializer.Deserialize<string>("\"" + last.Groups["dq"].Value + "\"");
            }
            catch (JsonException)
            {
                return last.Groups["dq"].Value;
            }
        }

        if (last.Groups["sq"].Success)
        {
            return last.Groups["sq"].Value;
        }

        return last.Groups["bare"].Value;
    }

    /// <summary>The content of the last <c>\boxed{...}</c> or <c>\fbox{...}</c> (balanced braces), or of <c>\boxed x</c>.</summary>
    public static string? LastBoxed(string text)
    {
        var at = Math.Max(text.LastIndexOf("\\boxed", StringComparison.Ordinal), text.LastIndexOf("\\fbox", StringComparison.Ordinal));
        if (at < 0)
        {
            return null;
        }

        var i = at + (string.CompareOrdinal(text, at, "\\boxed", 0, 6) == 0 ? 6 : 5);
        if (i < text.Length && text[i] == ' ')
        {
            var end = i + 1;
            while (end < text.Length && text[end] != '$' && !char.IsWhiteSpace(text[end]))
            {
                end++;
            }

            var simple = text[(i + 1)..end].Trim();
            return simple.Length == 0 ? null : simple;
        }

        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }

        if (i >= text.Length || text[i] != '{')
        {
            return null;
        }

        var depth = 0;
        for (var j = i; j < text.Length; j++)
        {
            if (text[j] == '{')
            {
                depth++;
            }
            else if (text[j] == '}')
            {
                depth--;
                if (depth == 0)
                {
                    var inner = text[(i + 1)..j].Trim();
                    return inner.Length == 0 ? null : inner;
                }
            }
        }

        return null;
    }

    /// <summary>The rest of the line after the last "the answer is" / "answer:" phrase, without markdown and trailing period.</summary>
    public static string? AnswerIsPhrase(string text)
    {
        Match? last = null;
        foreach (Match m in AnswerIsRegex().Matches(text))
        {
            last = m;
        }

        if (last is null)
        {
            return null;
        }

        var value = StripDecoration(last.Groups["value"].Value);
        return value.Length == 0 ? null : value;
    }

    /// <summary>Removes markdown emphasis, surrounding quotes, math delimiters and a trailing sentence period.</summary>
    public static string StripDecoration(string value)
    {
        var s = value.Trim().Replace("**", string.Empty, StringComparison.Ordinal).Replace("__", string.Empty, StringComparison.Ordinal).Trim();
        s = s.Trim('"', '\'', '`', '“', '”', '‘', '’').Trim();
        if (s.StartsWith("\\(", StringComparison.Ordinal) && s.EndsWith("\\)", StringComparison.Ordinal) && s.Length >= 4)
        {
            s = s[2..^2].Trim();
        }

        s = s.TrimEnd('.', '!', ';').Trim();
        if (s.Length >= 2 && s[0] == '$' && s[^1] == '$' && s.Count(c => c == '$') == 2 && !char.IsDigit(s[1]))
        {
            s = s[1..^1].Trim();
        }

        return s.TrimEnd('.').Trim();
    }

    /// <summary>Lower-cases and collapses whitespace.</summary>
    public static string Collapse(string value)
    {
        var sb = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value.Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space && sb.Length > 0)
            {
                sb.Append(' ');
            }

            space = false;
            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }

    [GeneratedRegex("""["']answer["']\s*:\s*(?:"(?<dq>(?:[^"\\]|\\.)*)"|'(?<sq>[^']*)'|(?<bare>-?\d[\d,]*(?:\.\d+)?|true|false))""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex JsonAnswerRegex();

    [GeneratedRegex(@"(?:\banswer\s*(?:is|would\s+be|will\s+be|should\s+be)|\banswer\s*:|\banswer\s+is\s*:)\**\s*:?\s*(?<value>[^\n]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AnswerIsRegex();
}
