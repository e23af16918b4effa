using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

// The normalizer, pre-tokenizer and decoder steps of a Hugging Face tokenizer.json, with the semantics of
// the Rust `tokenizers` crate. Only the steps MagDi supports exist here; TokenizerJsonReader rejects the rest.

/// <summary>Where a text segment sits, which decides whether prefix-adding steps (Prepend, add_prefix_space, Metaspace) apply.</summary>
/// <param name="AllowPrefix">False for a continuation segment (a target appended to a prompt): no prefix is added.</param>
/// <param name="IsFirst">True for the first segment of the whole text (Metaspace prepend_scheme "first").</param>
internal readonly record struct SegmentContext(bool AllowPrefix, bool IsFirst);

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

internal abstract class PreTokenizer
{
    /// <summary>Splits or transforms every piece; <paramref name="pieces"/> is replaced by the result.</summary>
    public abstract void PreTokenize(List<string> pieces, SegmentContext context);
}

internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

internal sealed class SplitPreTokenizer(Regex regex, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public Regex Regex => regex;

    public SplitBehavior Behavior => behavior;

    public bool Invert => invert;

    public override void PreTokenize(List<string> pieces, SegmentContext context)
    {
        var result = new List<string>(pieces.Count * 4);
        foreach (string piece in pieces)
        {
            Split(piece, regex, behavior, invert, result);
        }

        pieces.Clear();
        pieces.AddRange(result);
    }

    public static void Split(string text, Regex regex, SplitBehavior behavior, bool invert, List<string> output)
    {
        // Spans of (start, length, isMatch) covering the text, as tokenizers' NormalizedString::split does.
        var spans = new List<(int Start, int Length, bool IsMatch)>();
        int last = 0;
        foreach (var m in CodePointRegex.Matches(regex, text))
        {
            if (m.Index > last)
            {
                spans.Add((last, m.Index - last, false));
            }

            spans.Add((m.Index, m.Length, true));
            last = m.Index + m.Length;
        }

        if (last < text.Length)
        {
            spans.Add((last, text.Length - last, false));
        }

        if (invert)
        {
            for (int i = 0; i < spans.Count; i++)
            {
                spans[i] = (spans[i].Start, spans[i].Length, !spans[i].IsMatch);
            }
        }

        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var s in spans)
                {
                    if (!s.IsMatch)
                    {
                        output.Add(text.Substring(s.Start, s.Length));
                    }
                }

                break;
            case SplitBehavior.Isolated:
                foreach (var s in spans)
                {
                    output.Add(text.Substring(s.Start, s.Length));
                }

                break;
            case SplitBehavior.Contiguous:
                for (int i = 0; i < spans.Count;)
                {
                    int j = i + 1;
                    int end = spans[i].Start + spans[i].Length;
                    while (j < spans.Count && spans[j].IsMatch == spans[i].IsMatch)
                    {
                        end = spans[j].Start + spans[j].Length;
                        j++;
                    }

                    output.Add(text[spans[i].Start..end]);
                    i = j;
                }

                break;
            case SplitBehavior.MergedWithPrevious:
            {
                int start = -1;
                int end = 0;
                foreach (var s in spans)
                {
                    if (s.IsMatch && start >= 0)
                    {
                        end = s.Start + s.Length;
                        output.Add(text[start..end]);
                        start = -1;
                    }
                    else if (s.IsMatch)
                    {
                        output.Add(text.Substring(s.Start, s.Length));
                    }
                    else
                    {
                        if (start >= 0)
                        {
                            output.Add(text[start..end]);
                        }

                        start = s.Start;
                        end = s.Start + s.Length;
                    }
                }

                if (start >= 0)
                {
                    output.Add(text[start..end]);
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                int start = -1;
                foreach (var s in spans)
                {
                    if (s.IsMatch)
                    {
                        if (start >= 0)
                        {
                            output.Add(text[start..s.Start]);
                        }

                        start = s.Start;
                    }
                    else
                    {
                        output.Add(text[(start >= 0 ? start : s.Start)..(s.Start + s.Length)]);
                        start = -1;
                    }
                }

                if (start >= 0)
                {
                    output.Add(text[start..]);
                }

                break;
            }
        }
    }
}

internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public bool AddPrefixSpace => addPrefixSpace;

    public bool UseRegex => useRegex;

    public override void PreTokenize(List<string> pieces, SegmentContext context)
    {
        var result = new List<string>(pieces.Count * 4);
        for (int p = 0; p < pieces.Count; p++)
        {
            string piece = pieces[p];
            if (addPrefixSpace && (context.AllowPrefix || p > 0) && !piece.StartsWith(' '))
            {
                piece = " " + piece;
            }

            if (useRegex)
            {
                foreach (var m in CodePointRegex.Matches(ByteLevel.Gpt2Regex, piece))
                {
                    result.Add(ByteLevel.Encode(piece.AsSpan(m.Index, m.Length)));
                }
            }
            else
            {
                result.Add(ByteLevel.Encode(piece));
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }
}

internal enum PrependScheme
{
    Always,
    First,
    Never,
}

internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : PreTokenizer
{
    private readonly Regex _splitRegex = new(Regex.Escape(replacement.ToString()), RegexOptions.CultureInvariant);

    public override void PreTokenize(List<string> pieces, SegmentContext context)
    {
        var result = new List<string>(pieces.Count * 4);
        for (int p = 0; p < pieces.Count; p++)
        {
            string piece = pieces[p].Replace(' ', replacement);
            bool prepend = scheme switch
            {
                PrependScheme.Always => context.AllowPrefix || p > 0,
                PrependScheme.First => context.AllowPrefix && context.IsFirst && p == 0,
                _ => false,
            };
            if (prepend && !piece.StartsWith(replacement))
            {
                piece = replacement + piece;
            }

            if (split)
            {
                SplitPreTokenizer.Split(piece, _splitRegex, SplitBehavior.MergedWithNext, invert: false, result);
            }
            else
            {
                result.Add(piece);
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }
}

internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps => steps;

    public override void PreTokenize(List<string> pieces, SegmentContext context)
    {
        foreach (var step in steps)
        {
            step.PreTokenize(pieces, context);
        }
    }
}

internal abstract class TokenDecoder
{
    public abstract List<string> Decode(List<string> tokens);
}

internal sealed class ByteLevelDecoder : TokenDecoder
{
    public override List<string> Decode(List<string> tokens) => [ByteLevel.Decode(tokens)];
}

internal sealed class ReplaceDecoder(string pattern, string content) : TokenDecoder
{
    public string Pattern => pattern;

    public string Content => content;

    public override List<string> Decode(List<string> tokens) =>
        tokens.ConvertAll(t => t.Replace(pattern, content, StringComparison.Ordinal));
}

internal sealed class FuseDecoder : TokenDecoder
{
    public override List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
}

internal sealed class StripDecoder(char content, int start, int stop) : TokenDecoder
{
    public char Content => content;

    public int Start => start;

    public int Stop => stop;

    public override List<string> Decode(List<string> tokens) => tokens.ConvertAll(token =>
    {
        int from = 0;
        while (from < start && from < token.Length && token[from] == content)
        {
            from++;
        }

        int to = token.Length;
        for (int i = 0; i < stop && to > from && token[to - 1] == content; i++)
        {
            to--;
        }

        return token[from..to];
    });
}

/// <summary>Turns runs of <c>&lt;0xNN&gt;</c> tokens into text; a run that is not valid UTF-8 gives one U+FFFD per byte.</summary>
internal sealed class ByteFallbackDecoder : TokenDecoder
{
    private static readonly UTF8Encoding s_strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            if (TryParseByte(token, out byte b))
            {
                bytes.Add(b);
                continue;
            }

            Flush(bytes, result);
            result.Add(token);
        }

        Flush(bytes, result);
        return result;
    }

    internal static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
               byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Appends a byte run as text: valid UTF-8 as is, otherwise one U+FFFD per byte.</summary>
    internal static void AppendBytes(List<byte> bytes, StringBuilder sb)
    {
        if (bytes.Count == 0)
        {
            return;
        }

        try
        {
            sb.Append(s_strict.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
        }
        catch (DecoderFallbackException)
        {
            sb.Append('\uFFFD', bytes.Count);
        }

        bytes.Clear();
    }

    private static void Flush(List<byte> bytes, List<string> result)
    {
        if (bytes.Count == 0)
        {
            return;
        }

        try
        {
            result.Add(s_strict.GetString(bytes.ToArray()));
        }
        catch (DecoderFallbackException)
        {
            for (int i = 0; i < bytes.Count; i++)
            {
                result.Add("\uFFFD");
            }
        }

        bytes.Clear();
    }
}

internal sealed class MetaspaceDecoder(char replacement, bool stripFirst) : TokenDecoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var sb = new StringBuilder(tokens[i].Length);
            foreach (char c in tokens[i])
            {
                if (c != replacement)
                {
                    sb.Append(c);
                }
                else if (!(i == 0 && stripFirst))
                {
                    sb.Append(' ');
                }
            }

            result.Add(sb.ToString());
        }

        return result;
    }
}

internal sealed class SequenceDecoder(IReadOnlyList<TokenDecoder> steps) : TokenDecoder
{
    public IReadOnlyList<TokenDecoder> Steps => steps;

    public override List<string> Decode(List<string> tokens)
    {
        foreach (var step in steps)
        {
            tokens = step.Decode(tokens);
        }

        return tokens;
    }
}
