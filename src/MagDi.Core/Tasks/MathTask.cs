using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tasks;

/// <summary>
/// A task whose answers are LaTeX expressions (MATH). Answers are compared after the normalisation the
/// MATH benchmark's own evaluation uses, extended with numeric comparison of simple values.
/// </summary>
/// <remarks>
/// Normalisation: <c>\dfrac</c>/<c>\tfrac</c> become <c>\frac</c>; <c>\left</c>/<c>\right</c>, <c>\!</c>, <c>\,</c>,
/// <c>$</c>, degree signs, percent signs, trailing units (<c>\text{ cm}</c>, <c>\mbox{...}</c>) and all spaces are removed;
/// <c>\frac12</c> becomes <c>\frac{1}{2}</c>, <c>\sqrt3</c> becomes <c>\sqrt{3}</c>, <c>a/b</c> of integers becomes
/// <c>\frac{a}{b}</c>; a short <c>x =</c> prefix is dropped; <c>.5</c> becomes <c>0.5</c>; thousands separators in plain
/// numbers are dropped. Two answers are equal when the normalised strings are equal or both evaluate to the
/// same number (so <c>0.5</c>, <c>\frac12</c> and <c>1/2</c> are all equal).
/// </remarks>
public sealed partial class MathTask : ReasoningTask
{
    /// <summary>Creates a MATH-style task.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="aliases">Other names for the task.</param>
    public MathTask(string name, IEnumerable<string>? aliases = null)
        : base(name, aliases)
    {
    }

    /// <inheritdoc />
    public override AnswerKind Kind => AnswerKind.Math;

    /// <inheritdoc />
    public override string AnswerFormatInstruction => "Give the final answer in LaTeX inside \\boxed{}, for example \\boxed{\\frac{1}{2}}.";

    /// <inheritdoc />
    public override string? Normalize(string? answer)
    {
        if (answer is null)
        {
            return null;
        }

        var s = answer.Trim();
        if (AnswerText.LastBoxed(s) is { } boxed)
        {
            s = boxed;
        }

        s = Strip(s);
        return s.Length == 0 ? null : s;
    }

    /// <summary>Evaluates a normalised answer that is a plain number or a simple fraction.</summary>
    /// <param name="normalized">An answer normalised by <see cref="Normalize"/>.</param>
    /// <returns>The value, or <see langword="null"/> when it is not a simple number.</returns>
    internal static double? TryEvaluate(string normalized)
    {
        var m = FracValueRegex().Match(normalized);
        if (m.Success)
        {
            var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
            var d = double.Parse(m.Groups["d"].Value, CultureInfo.InvariantCulture);
            if (d == 0)
            {
                return null;
            }

            var v = n / d;
            return m.Groups["sign"].Success ? -v : v;
        }

        return double.TryParse(normalized, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var x) ? x : null;
    }

    /// <inheritdoc />
    protected override bool AreEquivalent(string normalizedPredicted, string normalizedGold)
    {
        if (string.Equals(normalizedPredicted, normalizedGold, StringComparison.Ordinal))
        {
            return true;
        }

        return TryEvaluate(normalizedPredicted) is { } p && TryEvaluate(normalizedGold) is { } g
            && Math.Abs(p - g) <= Math.Max(1e-9, Math.Abs(g) * 1e-6);
    }

    /// <inheritdoc />
    protected override string? CleanCandidate(string candidate)
    {
        var s = AnswerText.StripDecoration(candidate);
        return Normalize(s) is null ? null : s;
    }

    /// <inheritdoc />
    protected override string? ExtractFallback(string freeText)
    {
        // Last inline math segment "$...$", else nothing.
        string? last = null;
        foreach (Match m in InlineMathRegex().Matches(freeText))
        {
            last = m.Groups["m"].Value.Trim();
        }

        return string.IsNullOrEmpty(last) ? null : last;
    }

    private static string Strip(string input)
    {
        var s = input.Replace("\n", string.Empty, StringComparison.Ordinal).Replace("\r", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\!", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\\\", "\\", StringComparison.Ordinal);
        s = s.Replace("tfrac", "frac", StringComparison.Ordinal).Replace("dfrac", "frac", StringComparison.Ordinal);
        s = s.Replace("\\left", string.Empty, StringComparison.Ordinal).Replace("\\right", string.Empty, StringComparison.Ordinal);
        s = s.Replace("^{\\circ}", string.Empty, StringComparison.Ordinal).Replace("^\\circ", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\$", string.Empty, StringComparison.Ordinal).Replace("$", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\,", string.Empty, StringComparison.Ordinal).Replace("\\;", string.Empty, StringComparison.Ordinal).Replace("\\ ", " ", StringComparison.Ordinal);
        s = RemoveRightUnits(s);
        s = TextWrapperRegex().Replace(s, "${t}");
        s = s.Replace("\\%", string.Empty, StringComparison.Ordinal).Replace("%", string.Empty, StringComparison.Ordinal);
        s = s.Replace(" .", " 0.", StringComparison.Ordinal).Replace("{.", "{0.", StringComparison.Ordinal);
        s = s.Trim();
        if (s.StartsWith('.'))
        {
            s = "0" + s;
        }

        var parts = s.Split('=');
        if (parts.Length == 2 && parts[0].Trim().Length <= 2)
        {
            s = parts[1];
        }

        s = FixSqrt(s);
        s = s.Replace(" ", string.Empty, StringComparison.Ordinal);
        s = FixFracs(s);
        if (ThousandsRegex().IsMatch(s))
        {
            s = s.Replace(",", string.Empty, StringComparison.Ordinal);
        }

        s = s.TrimEnd('.');
        if (s == "0.5")
        {
            s = "\\frac{1}{2}";
        }

        if (SlashFractionRegex().Match(s) is { Success: true } m)
        {
            s = $"\\frac{{{m.Groups["a"].Value}}}{{{m.Groups["b"].Value}}}";
        }

        if (TrailingZerosRegex().IsMatch(s))
        {
            s = s.TrimEnd('0').TrimEnd('.');
        }

        return s;
    }

    private static string RemoveRightUnits(string s)
    {
        // "10\text{ cm}" / "5 \mbox{ inches}" -> drop the trailing unit; "\text{(A)}" alone stays.
        var m = UnitsRegex().Match(s);
        return m.Success && m.Index > 0 ? s[..m.Index].TrimEnd() : s;
    }

    private static string FixSqrt(string s)
    {
        if (!s.Contains("\\sqrt", StringComparison.Ordinal))
        {
            return s;
        }

        var pieces = s.Split("\\sqrt");
        var sb = new StringBuilder(pieces[0]);
        foreach (var piece in pieces.Skip(1))
        {
            sb.Append("\\sqrt");
            if (piece.Length > 0 && piece[0] != '{')
            {
                sb.Append('{').Append(piece[0]).Append('}').Append(piece.AsSpan(1));
            }
            else
            {
                sb.Append(piece);
            }
        }

        return sb.ToString();
    }

    private static string FixFracs(string s)
    {
        var pieces = s.Split("\\frac");
        if (pieces.Length == 1)
        {
            return s;
        }

        var sb = new StringBuilder(pieces[0]);
        foreach (var piece in pieces.Skip(1))
        {
            sb.Append("\\frac");
            if (piece.Length > 0 && piece[0] == '{')
            {
                // \frac{a}b -> \frac{a}{b}
                var close = piece.IndexOf('}', StringComparison.Ordinal);
                if (close > 0 && close + 1 < piece.Length && piece[close + 1] != '{')
                {
                    sb.Append(piece.AsSpan(0, close + 1)).Append('{').Append(piece[close + 1]).Append('}').Append(piece.AsSpan(close + 2));
                }
                else
                {
                    sb.Append(piece);
                }
            }
            else if (piece.Length >= 2)
            {
                var a = piece[0];
                if (piece[1] == '{')
                {
                    sb.Append('{').Append(a).Append('}').Append(piece.AsSpan(1));
                }
                else
                {
                    sb.Append('{').Append(a).Append("}{").Append(piece[1]).Append('}').Append(piece.AsSpan(2));
                }
            }
            else
            {
                sb.Append(piece);
            }
        }

        return sb.ToString();
    }

    [GeneratedRegex(@"\\(?:text|mbox|textbf|mathrm)\{\s*(?<t>[^{}]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex TextWrapperRegex();

    [GeneratedRegex(@"\s*\\(?:text|mbox|mathrm)\{\s+[a-zA-Z][a-zA-Z\s^0-9]*\}\s*$|\s*\\(?:text|mbox|mathrm)\{\s*(?:cm|m|km|mm|inches|inch|feet|foot|ft|units|unit|degrees|degree|cents|dollars|meters|miles|hours|minutes|seconds|square\s+units|sq\s+units)\}(?:\^\{?\d\}?)?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex UnitsRegex();

    [GeneratedRegex(@"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex ThousandsRegex();

    [GeneratedRegex(@"^(?<a>-?\d+)/(?<b>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex SlashFractionRegex();

    [GeneratedRegex(@"^-?\d+\.\d*?0+$", RegexOptions.CultureInvariant)]
    private static partial Regex TrailingZerosRegex();

    [GeneratedRegex(@"^(?<sign>-)?\\frac\{(?<n>-?\d+(?:\.\d+)?)\}\{(?<d>-?\d+(?:\.\d+)?)\}$", RegexOptions.CultureInvariant)]
    private static partial Regex FracValueRegex();

    [GeneratedRegex(@"\$(?<m>[^$]+)\$", RegexOptions.CultureInvariant)]
    private static partial Regex InlineMathRegex();
}
