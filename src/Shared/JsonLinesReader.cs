using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace MagDi.Tasks;

/// <summary>One line of a JSON Lines file as raw UTF-8.</summary>
/// <param name="Number">The 1-based line number.</param>
/// <param name="Utf8">The line's bytes without the line terminator (empty when <paramref name="TooLong"/>).</param>
/// <param name="TooLong">Whether the line exceeded the byte limit (its bytes were not kept).</param>
/// <param name="IsValidUtf8">Whether the line is valid UTF-8.</param>
internal sealed record JsonLine(int Number, ReadOnlyMemory<byte> Utf8, bool TooLong, bool IsValidUtf8)
{
    /// <summary>Whether the line is empty or whitespace only.</summary>
    public bool IsBlank => !TooLong && Utf8.Span.Trim(" \t\r"u8).IsEmpty;
}

/// <summary>
/// Splits a UTF-8 stream into lines with constant memory (one line at a time, bounded by a byte
/// limit), reporting over-long lines and invalid UTF-8 instead of failing.
/// </summary>
internal static class JsonLinesReader
{
    /// <summary>Reads the lines of <paramref name="stream"/>. A UTF-8 byte-order mark and trailing <c>\r</c> are removed.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="maxLineBytes">The longest line kept; longer lines are returned with <see cref="JsonLine.TooLong"/> set.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The lines.</returns>
    public static async IAsyncEnumerable<JsonLine> ReadLinesAsync(Stream stream, int maxLineBytes, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        var buffer = new byte[64 * 1024];
        using var line = new MemoryStream();
        var tooLong = false;
        var number = 1;
        var first = true;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            var start = 0;
            if (first)
            {
                first = false;
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF)
                {
                    start = 3;
                }
            }

            while (start < read)
            {
                var nl = Array.IndexOf(buffer, (byte)'\n', start, read - start);
                var end = nl < 0 ? read : nl;
                if (!tooLong)
                {
                    if (line.Length + (end - start) > maxLineBytes)
                    {
                        tooLong = true;
                        line.SetLength(0);
                    }
                    else
                    {
                        line.Write(buffer, start, end - start);
                    }
                }

                if (nl < 0)
                {
                    break;
                }

                yield return Complete(line, number++, tooLong);
                tooLong = false;
                start = nl + 1;
            }
        }

        if (line.Length > 0 || tooLong)
        {
            yield return Complete(line, number, tooLong);
        }
    }

    private static JsonLine Complete(MemoryStream line, int number, bool tooLong)
    {
        if (tooLong)
        {
            line.SetLength(0);
            return new JsonLine(number, ReadOnlyMemory<byte>.Empty, true, true);
        }

        var bytes = line.ToArray();
        line.SetLength(0);
        var length = bytes.Length > 0 && bytes[^1] == '\r' ? bytes.Length - 1 : bytes.Length;
        var memory = new ReadOnlyMemory<byte>(bytes, 0, length);
        return new JsonLine(number, memory, false, Utf8.IsValid(memory.Span));
    }

    /// <summary>The 1-based line number of the first invalid UTF-8 byte in <paramref name="bytes"/>, or <see langword="null"/> when all is valid.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The line number or <see langword="null"/>.</returns>
    public static int? FirstInvalidUtf8Line(ReadOnlySpan<byte> bytes)
    {
        var line = 1;
        var start = 0;
        while (start <= bytes.Length)
        {
            var rest = bytes[start..];
            var nl = rest.IndexOf((byte)'\n');
            var segment = nl < 0 ? rest : rest[..nl];
            if (!Utf8.IsValid(segment))
            {
                return line;
            }

            if (nl < 0)
            {
                return null;
            }

            start += nl + 1;
            line++;
        }

        return null;
    }
}
