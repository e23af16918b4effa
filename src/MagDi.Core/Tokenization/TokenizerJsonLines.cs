using System.Text.Json;

namespace MagDi.Tokenization;

/// <summary>
/// The logic of the CLI verb <c>magdi tokenize</c>: reads JSON Lines with a <c>"text"</c> string per line and
/// writes one <c>{"ids":[...]}</c> line per input line, in order.
/// </summary>
public static class TokenizerJsonLines
{
    /// <summary>Tokenizes every line of <paramref name="input"/> into <paramref name="output"/>.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="input">JSON Lines, one object with a string field <c>text</c> per line (other fields are ignored). Blank lines are not allowed.</param>
    /// <param name="output">Receives one <c>{"ids":[...]}</c> line per input line.</param>
    /// <param name="addSpecialTokens">Add BOS/EOS as the tokenizer's configuration says.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The number of lines tokenized.</returns>
    /// <exception cref="InvalidDataException">A line is blank, not JSON, not an object, or has no string <c>text</c> (the message names the line).</exception>
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
        while (await input.ReadLineAsync(cancellationToken).ConfigureAwait(false) is string line)
        {
            lineNumber++;
            string text = ReadText(line, lineNumber);
            var ids = tokenizer.Encode(text, addSpecialTokens);
            await output.WriteLineAsync(FormatIds(ids).AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return lineNumber;
    }

    /// <summary>Formats ids as the output line <c>{"ids":[1,2,3]}</c>.</summary>
    /// <param name="ids">The ids.</param>
    /// <returns>The JSON line (without newline).</returns>
    public static string FormatIds(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return "{\"ids\":[" + string.Join(',', ids) + "]}";
    }

    private static string ReadText(string line, int lineNumber)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            throw new InvalidDataException($"line {lineNumber}: blank line; every line must be a JSON object with a \"text\" string.");
        }

        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"line {lineNumber}: expected a JSON object, got {doc.RootElement.ValueKind}.");
            }

            if (!doc.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"line {lineNumber}: field \"text\" is missing or not a string.");
            }

            return text.GetString()!;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"line {lineNumber}: invalid JSON: {e.Message}", e);
        }
    }
}
