using System.Globalization;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

/// <summary>
/// A regular expression read from a tokenizer file (a <c>Split</c> pre-tokenizer or <c>Replace</c> normalizer pattern).
/// It runs with a match timeout, because a pattern with catastrophic backtracking (<c>(a+)+$</c>) would otherwise never
/// return on some texts; a timeout becomes an <see cref="InvalidDataException"/> naming the file, the field and the pattern.
/// </summary>
internal sealed class FileRegex : Regex
{
    /// <summary>How long one match may take: far more than any sane pre-tokenizer pattern needs on 100,000 characters.</summary>
    public static readonly TimeSpan FileTimeout = TimeSpan.FromSeconds(2);

    public FileRegex(string pattern, RegexOptions options, string source, string field)
        : base(pattern, options, FileTimeout)
    {
        Source = source;
        Field = field;
    }

    /// <summary>The tokenizer file the pattern comes from.</summary>
    public string Source { get; }

    /// <summary>Where in the file, for example <c>pre_tokenizer.pretokenizers[0].pattern.Regex</c>.</summary>
    public string Field { get; }

    /// <summary>Turns a timeout of <paramref name="regex"/> into an error naming its file and field (when it came from a file).</summary>
    public static Exception Explain(Regex regex, RegexMatchTimeoutException ex) =>
        regex is FileRegex file
            ? new InvalidDataException(string.Create(
                CultureInfo.InvariantCulture,
                $"{file.Source}: {file.Field} \"{Shorten(file.ToString())}\" took longer than {FileTimeout.TotalSeconds:0.#} s to match a {ex.Input.Length}-character text and was stopped (catastrophic backtracking?); this tokenizer file's pattern cannot be used."),
                ex)
            : ex;

    private static string Shorten(string pattern) => pattern.Length <= 80 ? pattern : pattern[..80] + "...";
}
