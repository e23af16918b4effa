using System.Globalization;
using System.Text;

namespace MagDi.Cli.Infrastructure;

/// <summary>Makes text from files, servers or models safe to print: no terminal escape sequences, no forged lines.</summary>
public static class Terminal
{
    /// <summary>
    /// Replaces every control character (C0, DEL, C1, and the Unicode line and paragraph separators) with a visible
    /// <c>\uXXXX</c> escape, so an id holding ESC sequences cannot recolour or rewrite the terminal and an id holding a
    /// newline cannot forge an output line. Newlines and tabs are kept when <paramref name="keepLineBreaks"/> is true
    /// (multi-line messages and generated text).
    /// </summary>
    /// <param name="text">The text; null gives an empty string.</param>
    /// <param name="keepLineBreaks">Keep <c>\n</c> and <c>\t</c> (a <c>\r</c> before <c>\n</c> is dropped).</param>
    /// <returns>The printable text.</returns>
    public static string Clean(string? text, bool keepLineBreaks = false)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        if (!text.Any(c => IsUnsafe(c, keepLineBreaks)))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (keepLineBreaks && c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                continue;
            }

            if (IsUnsafe(c, keepLineBreaks))
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// An error message as one paragraph: control characters escaped, line breaks kept but no blank lines and no
    /// trailing whitespace.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <returns>The paragraph.</returns>
    public static string Paragraph(string? message)
    {
        string clean = Clean(message, keepLineBreaks: true);
        var lines = clean.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0);
        return string.Join('\n', lines);
    }

    private static bool IsUnsafe(char c, bool keepLineBreaks) =>
        (char.IsControl(c) && !(keepLineBreaks && c is '\n' or '\t')) || c is '\u2028' or '\u2029';
}
