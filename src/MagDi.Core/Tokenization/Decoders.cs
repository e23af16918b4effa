using System.Globalization;
using System.Text;

namespace MagDi.Tokenization;

// The decoder steps of a Hugging Face tokenizer.json, with the semantics of the Rust `tokenizers` crate. Only the steps
// MagDi supports exist here; TokenizerJsonReader rejects the rest.

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
