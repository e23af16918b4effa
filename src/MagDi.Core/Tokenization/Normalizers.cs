using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

// The normalizer steps of a Hugging Face tokenizer.json, with the semantics of the Rust `tokenizers` crate. Only the steps
// MagDi supports exist here; TokenizerJsonReader rejects the rest.

internal abstract class TextNormalizer
{
    public abstract string Normalize(string text, SegmentContext context);
}

internal sealed class UnicodeNormalizer(NormalizationForm form) : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context) => text.IsNormalized(form) ? text : text.Normalize(form);
}

internal sealed class LowercaseNormalizer : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context) => text.ToLowerInvariant();
}

internal sealed class PrependNormalizer(string prepend) : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context) =>
        text.Length > 0 && context.AllowPrefix ? prepend + text : text;
}

internal sealed class ReplaceNormalizer(string? literal, Regex? regex, string content) : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context)
    {
        if (regex is null)
        {
            return text.Replace(literal!, content, StringComparison.Ordinal);
        }

        try
        {
            return regex.Replace(text, content.Replace("$", "$$", StringComparison.Ordinal));
        }
        catch (RegexMatchTimeoutException ex)
        {
            throw FileRegex.Explain(regex, ex);
        }
    }
}

internal sealed class StripNormalizer(bool left, bool right) : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context) =>
        left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
}

internal sealed class SequenceNormalizer(IReadOnlyList<TextNormalizer> steps) : TextNormalizer
{
    public override string Normalize(string text, SegmentContext context)
    {
        foreach (var step in steps)
        {
            text = step.Normalize(text, context);
        }

        return text;
    }
}
