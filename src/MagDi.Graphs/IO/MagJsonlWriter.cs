using System.Text.Json;

namespace MagDi.Graphs.IO;

/// <summary>
/// Appends graphs to a JSON Lines stream one at a time, flushing after each, so a crash loses nothing
/// already written (used for resumable corpus building).
/// </summary>
public sealed class MagJsonlWriter : IAsyncDisposable, IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Utf8JsonWriter _writer;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates a writer over a stream.</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="leaveOpen">Whether disposing the writer leaves the stream open.</param>
    public MagJsonlWriter(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = MagJsonl.Encoder });
    }

    /// <summary>The number of graphs written.</summary>
    public int Count { get; private set; }

    /// <summary>Opens a file for appending (created if missing).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The writer.</returns>
    public static MagJsonlWriter AppendToFile(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));

    /// <summary>Writes one graph and its newline, then flushes. Safe to call concurrently.</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the line is flushed.</returns>
    public async Task WriteAsync(InteractionGraph graph, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            MagJsonl.Write(_writer, graph);
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            _writer.Reset();
            await _stream.WriteAsync(NewLine, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            Count++;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        if (!_leaveOpen)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }

        _gate.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writer.Dispose();
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }

        _gate.Dispose();
    }
}
