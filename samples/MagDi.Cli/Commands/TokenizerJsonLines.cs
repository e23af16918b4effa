using System.Text;
using System.Text.Json;
using MagDi.IO;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Cli.Commands;

/// <summary>
/// The body of the CLI verb <c>magdi tokenize --in</c>: reads JSON Lines with a <c>"text"</c> string per line and
/// writes one <c>{"ids":[...]}</c> line per input line, in order.
/// </summary>
internal static class TokenizerJsonLines
{
    /// <summary>The longest input line accepted by <see cref="TokenizeFileAsync"/>: 64 MiB.</summary>
    public const int MaxLineBytes = 64 * 1024 * 1024;

    /// <summary>Tokenizes every line of <paramref name="input"/> into <paramref name="output"/>.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="input">JSON Lines, one object with a string field <c>text</c> per line (other fields are ignored). Blank lines are not allowed.</param>
    /// <param name="output">Receives one <c>{"ids":[...]}</c> line per input line.</param>
    /// <param name="addSpecialTokens">Add BOS/EOS as the tokenizer's configuration says.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The number of lines tokenized.</returns>
    /// <exception cref="InvalidDataException">A line is blank, not JSON, not an object, has no string <c>text</c>, or holds text that is not valid Unicode (the message names the line). A reader whose encoding throws on invalid bytes (<see cref="MagDi.IO.InputFile.StrictUtf8"/>) reports invalid UTF-8 here too, at or after the line named.</exception>
    public static async Task<int> TokenizeAsync(
        ITextTokenizer tokenizer,
        TextReader input,
        TextWriter output,
        bool addSpecialTokens = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        int lineNumber = 0;
        while (true)
        {
            string? line;
            try
            {
                line = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DecoderFallbackException e)
            {
                // The reader decodes a buffer ahead of the line it returns, so the bad byte is on this line or a later one.
                throw new InvalidDataException($"line {lineNumber + 1}: invalid UTF-8 at or after this line.", e);
            }

            if (line is null)
            {
                break;
            }

            lineNumber++;
            string text = ReadText(Encoding.UTF8.GetBytes(line), $"line {lineNumber}");
            var ids = tokenizer.Encode(text, addSpecialTokens);
            await output.WriteLineAsync(FormatIds(ids).AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return lineNumber;
    }

    /// <summary>
    /// Tokenizes every line of the JSON Lines file <paramref name="inputPath"/> into <paramref name="output"/>, reading
    /// raw bytes line by line: invalid UTF-8 is an error naming the file and line (never replaced by U+FFFD), and only a
    /// regular file is read (a FIFO would block).
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="inputPath">JSON Lines, one object with a string field <c>text</c> per line. Blank lines are not allowed.</param>
    /// <param name="output">Receives one <c>{"ids":[...]}</c> line per input line.</param>
    /// <param name="addSpecialTokens">Add BOS/EOS as the tokenizer's configuration says.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The number of lines tokenized.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a regular file, or a line is blank, over <see cref="MaxLineBytes"/>, not valid UTF-8, not JSON, not an object, or has no valid string <c>text</c> (the message names the file and line).</exception>
    public static async Task<int> TokenizeFileAsync(
        ITextTokenizer tokenizer,
        string inputPath,
        TextWriter output,
        bool addSpecialTokens = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentNullException.ThrowIfNull(output);
        int count = 0;
        var stream = InputFile.OpenRead(inputPath);
        await using (stream.ConfigureAwait(false))
        {
            await foreach (var line in JsonLinesReader.ReadLinesAsync(stream, MaxLineBytes, cancellationToken).ConfigureAwait(false))
            {
                string where = $"{inputPath}: line {line.Number}";
                if (line.TooLong)
                {
                    throw new InvalidDataException($"{where}: the line is over the limit of {MaxLineBytes} bytes.");
                }

                if (!line.IsValidUtf8)
                {
                    throw new InvalidDataException($"{where}: invalid UTF-8.");
                }

                string text = ReadText(line.Utf8, where);
                var ids = tokenizer.Encode(text, addSpecialTokens);
                await output.WriteLineAsync(FormatIds(ids).AsMemory(), cancellationToken).ConfigureAwait(false);
                count++;
            }
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>Formats ids as the output line <c>{"ids":[1,2,3]}</c>.</summary>
    /// <param name="ids">The ids.</param>
    /// <returns>The JSON line (without newline).</returns>
    public static string FormatIds(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return "{\"ids\":[" + string.Join(',', ids) + "]}";
    }

    private static string ReadText(ReadOnlyMemory<byte> line, string where)
    {
        if (line.Span.Trim(" \t\r"u8).IsEmpty)
        {
            throw new InvalidDataException($"{where}: blank line; every line must be a JSON object with a \"text\" string.");
        }

        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where}: expected a JSON object, got {doc.RootElement.ValueKind}.");
            }

            if (JsonStrings.FindInvalidEscape(line.Span) is { } bad)
            {
                throw new InvalidDataException(bad.Field is null ? $"{where}: {bad.Reason}." : $"{where}, field \"{bad.Field}\": {bad.Reason}.");
            }

            if (!doc.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"{where}: field \"text\" is missing or not a string.");
            }

            return text.GetString()!;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: invalid JSON: {e.Message}", e);
        }
    }
}
