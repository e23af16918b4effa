using System.Globalization;
using System.Text.RegularExpressions;

namespace MagDi.Tasks;

/// <summary>
/// A task whose answers are numbers (GSM8K, SVAMP). Canonical answers are invariant-culture decimals
/// without trailing zeros: <c>"$1,234.50"</c>, <c>"1234.5 dollars"</c> and <c>"1234.50"</c> all become <c>1234.5</c>,
/// and <c>42.0</c> becomes <c>42</c>.
/// </summary>
/// <remarks>
/// Thousands separators, currency symbols, percent signs, units and surrounding words are ignored; a
/// simple fraction <c>a/b</c> is evaluated; an answer stated as an equation (<c>5 + 3 = 8</c>) counts the
/// value after the last <c>=</c>. Number words from zero to twenty are understood. Two answers are equal
/// when they differ by at most 1e-6 relative to the gold value (at least 1e-6 absolute).
/// </remarks>
public sealed partial class NumericTask : ReasoningTask
{
    private static readonly string[] NumberWords =
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ];

    /// <summary>Creates a numeric task.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="aliases">Other names for the task.</param>
    public NumericTask(string name, IEnumerable<string>? aliases = null)
        : base(name, aliases)
    {
    }

    /// <inheritdoc />
    public override AnswerKind Kind => AnswerKind.Number;

    /// <inheritdoc />
    public override string AnswerFormatInstruction => "Answer with a single number. End with \"So the answer is N\" where N is the number without units.";

    /// <inheritdoc />
    public override string? Normalize(string? answer)
    {
        if (answer is null)
        {
            return null;
        }

        var s = AnswerText.StripDecoration(answer);
        var eq = s.LastIndexOf('=');
        if (eq >= 0 && eq < s.Length - 1)
        {
            s = s[(eq + 1)..];
        }

        s = s.Replace("\\$", string.Empty, StringComparison.Ordinal).Replace("\\!", string.Empty, StringComparison.Ordinal)
             .Replace("\\,", string.Empty, StringComparison.Ordinal).Replace("\\%", "%", StringComparison.Ordinal);
        if (LatexFractionRegex().Match(s) is { Success: true } lf)
        {
            return Divide(lf.Groups["sign"].Value + lf.Groups["n"].Value, lf.Groups["d"].Value);
        }

        var m = NumberRegex().Match(s);
        if (!m.Success)
        {
            return NumberWordValue(s);
        }

        var number = m.Groups["num"].Value.Replace(",", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal);
        var sign = m.Groups["sign"].Success ? "-" : string.Empty;
        if (m.Groups["den"].Success)
        {
            return Divide(sign + number, m.Groups["den"].Value);
        }

        return Canonical(sign + number);
    }

    /// <inheritdoc />
    protected override bool AreEquivalent(string normalizedPredicted, string normalizedGold)
    {
        if (string.Equals(normalizedPredicted, normalizedGold, StringComparison.Ordinal))
        {
            return true;
        }

        if (!decimal.TryParse(normalizedPredicted, NumberStyles.Float, CultureInfo.InvariantCulture, out var p)
            || !decimal.TryParse(normalizedGold, NumberStyles.Float, CultureInfo.InvariantCulture, out var g))
        {
            return false;
        }

        return Math.Abs(p - g) <= Math.Max(1e-6m, Math.Abs(g) * 1e-6m);
    }

    /// <inheritdoc />
    protected override string? ExtractFallback(string freeText)
    {
        Match? last = null;
        foreach (Match m in NumberRegex().Matches(freeText))
        {
            last = m;
        }

        return last is null ? null : Normalize(last.Value);
    }

    private static string? Canonical(string number)
    {
        if (number.StartsWith('.') || number.StartsWith("-.", StringComparison.Ordinal))
        {
            number = number.Replace(".", "0.", StringComparison.Ordinal);
        }

        if (!decimal.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                ? d.ToString("R", CultureInfo.InvariantCulture)
                : null;
        }

        return Format(value);
    }

    private static string Format(decimal value)
    {
        var text = value.ToString("0.############################", CultureInfo.InvariantCulture);
        return text == "-0" ? "0" : text;
    }

    private static string? Divide(string numerator, string denominator)
    {
        if (!decimal.TryParse(numerator.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
            || !decimal.TryParse(denominator.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            || d == 0)
        {
            return null;
        }

        return Format(Math.Round(n / d, 10));
    }

    private static string? NumberWordValue(string s)
    {
        foreach (Match m in WordRegex().Matches(s))
        {
            var index = Array.IndexOf(NumberWords, m.Value.ToLowerInvariant());
            if (index >= 0)
            {
                return index.ToString(CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    // A number with optional sign (also after a currency symbol: "-$5"), thousands separators and an optional "/denominator".
    [GeneratedRegex(@"(?<sign>-|−)?\s*[$€£¥]?\s*(?<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:\s*/\s*(?<den>\d+(?:\.\d+)?))?", RegexOptions.CultureInvariant)]
    private static partial Regex NumberRegex();

    [GeneratedRegex(@"(?<sign>-)?\\[dt]?frac\{(?<n>-?\d+(?:\.\d+)?)\}\{(?<d>\d+(?:\.\d+)?)\}", RegexOptions.CultureInvariant)]
    private static partial Regex LatexFractionRegex();

    [GeneratedRegex(@"\b[a-zA-Z]+\b", RegexOptions.CultureInvariant)]
    private static partial Regex WordRegex();
}
