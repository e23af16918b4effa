using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

// The pre-tokenizer steps of a Hugging Face tokenizer.json, with the semantics of the Rust `tokenizers` crate. Only the steps
// MagDi supports exist here; TokenizerJsonReader rejects the rest.

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
