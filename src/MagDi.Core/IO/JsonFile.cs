using System.Globalization;
using System.Text.Json;
using MagDi.Tasks;

namespace MagDi.IO;

/// <summary>
/// Parses the JSON files of a checkpoint, tokenizer or adapter folder with errors that name the file, the line and
/// the field: only regular files within a size limit, strict UTF-8, and every string checked for unpaired surrogate
/// escapes up front (so no later lookup can fail with an <see cref="InvalidOperationException"/>).
/// </summary>
internal static class JsonFile
{
    /// <summary>The largest configuration file read (config.json, tokenizer_config.json, adapter_config.json, indexes): 64 MiB.</summary>
    public const long MaxConfigBytes = 64L * 1024 * 1024;

    /// <summary>The largest tokenizer.json or vocab.json read: 1 GiB.</summary>
    public const long MaxTokenizerBytes = 1L << 30;

    /// <summary>Reads and parses a JSON file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a regular file, too large, invalid UTF-8, malformed JSON or an invalid string.</exception>
    public static JsonDocument Parse(string path, long maxBytes, JsonDocumentOptions options = default) =>
        Parse(path, InputFile.ReadAllBytes(path, maxBytes), options);

    /// <summary>Parses JSON bytes read from <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Invalid UTF-8, malformed JSON or an invalid string (the message names the file, line and field).</exception>
    public static JsonDocument Parse(string path, ReadOnlyMemory<byte> bytes, JsonDocumentOptions options = default)
    {
        if (bytes.Span.StartsWith("\uFEFF"u8))
        {
            bytes = bytes[3..];
        }

        if (JsonLinesReader.FirstInvalidUtf8Line(bytes.Span) is { } badLine)
        {
            throw new InvalidDataException($"{path}: line {badLine}: invalid UTF-8.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, options);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(SyntaxMessage(path, bytes.Span, ex), ex);
        }

        if (JsonStrings.FindInvalid(bytes.Span) is { } bad)
        {
            doc.Dispose();
            throw new InvalidDataException(Describe(path, bad));
        }

        return doc;
    }

    /// <summary>"path: line L, field 'f': reason." for a bad string.</summary>
    public static string Describe(string path, JsonStrings.Problem bad) =>
        bad.Field is null
            ? $"{path}: line {bad.Line}: {bad.Reason}."
            : $"{path}: line {bad.Line}, field '{bad.Field}': {bad.Reason}.";

    /// <summary>Describes a JSON syntax error with its line, column and the field being read.</summary>
    public static string SyntaxMessage(string path, ReadOnlySpan<byte> bytes, JsonException ex)
    {
        string message = ex.Message;
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        if (cut > 0)
        {
            message = message[..cut];
        }

        string where = ex.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $"line {line + 1}, column {(ex.BytePositionInLine ?? 0) + 1}")
            : "somewhere";
        string field = JsonStrings.PathAtSyntaxError(bytes) is { } f ? $" (in field '{f}')" : string.Empty;
        return $"{path}: malformed JSON at {where}{field}: {message}";
    }
}
