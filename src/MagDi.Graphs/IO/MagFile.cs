using System.Runtime.CompilerServices;
using MagDi.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.IO;

/// <summary>Reads and writes MAG files in either format, detecting the format from the content.</summary>
public static class MagFile
{
    /// <summary>Detects a file's format from its first non-blank byte: <c>[</c> is the released format, <c>{</c> is JSON Lines.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The format.</returns>
    /// <exception cref="MagDataException">The file is missing, empty or neither format.</exception>
    public static MagFormat DetectFormat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        EnsureReadable(path);
        using var s = InputFile.OpenRead(path);
        var buffer = new byte[4096];
        int read;
        var first = true;
        while ((read = s.Read(buffer)) > 0)
        {
            var span = buffer.AsSpan(0, read);
            if (first && span.StartsWith("\uFEFF"u8))
            {
                span = span[3..];
            }

            first = false;
            var trimmed = span.TrimStart(" \t\r\n"u8);
            if (!trimmed.IsEmpty)
            {
                return trimmed[0] switch
                {
                    (byte)'[' => MagFormat.MagdiRelease,
                    (byte)'{' => MagFormat.Jsonl,
                    _ => throw new MagDataException(new DataError(path, 1, null, null, "not a MAG file: expected a JSON array (released format) or JSON objects one per line (MagDi JSON Lines)")),
                };
            }
        }

        throw new MagDataException(new DataError(path, null, null, null, "the file is empty"));
    }

    /// <summary>Reads every graph of a file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Format, task, error mode, limits and cleaning.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The graphs, the read report and the format read.</returns>
    /// <exception cref="MagDataException">The file is bad (fail-fast: any bad record).</exception>
    public static async Task<MagReadResult> ReadAsync(string path, MagReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MagReadOptions();
        var format = options.Format == MagFormat.Auto ? DetectFormat(path) : options.Format;
        EnsureReadable(path);
        if (format == MagFormat.MagdiRelease)
        {
            options.Validate();
            var stream = InputFile.OpenRead(path);
            await using (stream.ConfigureAwait(false))
            {
                var length = stream.Length;
                if (length > options.MaxRecordBytes)
                {
                    throw new MagDataException(new DataError(path, null, null, null, $"file is {length} bytes, over the limit of {options.MaxRecordBytes} (MaxRecordBytes)"));
                }

                var bytes = new byte[length];
                await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
                return MagReleaseFormat.Read(bytes, options, path);
            }
        }

        var report = new ReadReport();
        var graphs = new List<InteractionGraph>();
        var lines = InputFile.OpenRead(path);
        await using (lines.ConfigureAwait(false))
        {
            await foreach (var g in MagJsonl.ReadAsync(lines, options, report, path, cancellationToken).ConfigureAwait(false))
            {
                graphs.Add(g);
            }
        }

        return new MagReadResult(graphs, report, MagFormat.Jsonl);
    }

    /// <summary>Streams the graphs of a file: JSON Lines one line at a time; the released format (a single array) is parsed whole first.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Format, task, error mode, limits and cleaning.</param>
    /// <param name="report">Receives counts and skipped records; required in skip mode.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The graphs in file order.</returns>
    /// <exception cref="ArgumentException">Skip mode without a report.</exception>
    public static async IAsyncEnumerable<InteractionGraph> StreamAsync(string path, MagReadOptions? options = null, ReadReport? report = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new MagReadOptions();
        if (options.ErrorMode == ReadErrorMode.SkipInvalid && report is null)
        {
            throw new ArgumentException("Skipping invalid records needs a ReadReport to list them; pass one.", nameof(report));
        }

        var format = options.Format == MagFormat.Auto ? DetectFormat(path) : options.Format;
        if (format == MagFormat.MagdiRelease)
        {
            var result = await ReadAsync(path, options, cancellationToken).ConfigureAwait(false);
            foreach (var e in result.Report.Skipped)
            {
                report?.AddSkipped(e);
            }

            foreach (var g in result.Graphs)
            {
                report?.AddRead();
                yield return g;
            }

            yield break;
        }

        EnsureReadable(path);
        var stream = InputFile.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            await foreach (var g in MagJsonl.ReadAsync(stream, options, report, path, cancellationToken).ConfigureAwait(false))
            {
                yield return g;
            }
        }
    }

    /// <summary>Throws a <see cref="MagDataException"/> naming the file unless it is an existing regular file (a FIFO would block forever).</summary>
    private static void EnsureReadable(string path)
    {
        if (InputFile.Problem(path) is { } problem)
        {
            throw new MagDataException(new DataError(path, null, null, null, problem));
        }
    }

    /// <summary>Writes graphs to a JSON Lines file, replacing it atomically (see <see cref="AtomicFile"/>).</summary>
    /// <param name="path">The file.</param>
    /// <param name="graphs">The graphs.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>The number written.</returns>
    public static async Task<int> WriteJsonlAsync(string path, IEnumerable<InteractionGraph> graphs, CancellationToken cancellationToken = default)
    {
        int count = 0;
        await AtomicFile.WriteAsync(path, async (stream, ct) => count = await MagJsonl.WriteAsync(stream, graphs, ct).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
        return count;
    }

    /// <summary>
    /// Writes graphs to a JSON Lines file, streaming, and replaces it atomically (see <see cref="AtomicFile"/>): the
    /// target is untouched until every graph is written, and a failure midway leaves it as it was.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="graphs">The graphs.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>The number written.</returns>
    public static async Task<int> WriteJsonlAsync(string path, IAsyncEnumerable<InteractionGraph> graphs, CancellationToken cancellationToken = default)
    {
        int count = 0;
        await AtomicFile.WriteAsync(path, async (stream, ct) => count = await MagJsonl.WriteAsync(stream, graphs, ct).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
        return count;
    }
}
