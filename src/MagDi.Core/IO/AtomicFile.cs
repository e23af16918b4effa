using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.IO;

/// <summary>
/// How MagDi writes every file and folder: into a unique temporary name next to the target
/// (<c>.name.&lt;32 hex digits&gt;.magdi-tmp</c>), flushed to disk, then renamed over the target in one step. A kill -9
/// or a full disk at any moment leaves the old version or the new one, never a half-written file; a failed write deletes
/// only its own temporary file. Leftovers of killed runs carry that unique pattern and nothing else does, so
/// <see cref="DeleteLeftovers"/> can remove them without touching anything MagDi did not create.
/// </summary>
/// <example>
/// <code>
/// AtomicFile.WriteAllText("out/metrics.json", json);
/// AtomicFile.WriteDirectory("out/adapter", temp => adapter.Save(temp));
/// </code>
/// </example>
public static partial class AtomicFile
{
    private const string TempSuffix = ".magdi-tmp";
    private const string OldSuffix = ".magdi-old";

    /// <summary>Temporary names keep at most this much of the target's name, so they stay within 255 bytes.</summary>
    private const int MaxNameInTemp = 120;

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);
    private static readonly AsyncLocal<DiskQuota?> s_quota = new();

    /// <summary>Writes a file through <paramref name="write"/>: a unique temporary file in the same folder, flushed to disk, then renamed over <paramref name="path"/>.</summary>
    /// <param name="path">The file to create or replace. A symbolic link is followed: its target is replaced.</param>
    /// <param name="write">Writes the whole content to the stream it is given (which it must not dispose).</param>
    /// <exception cref="IOException">Writing failed (for example a full disk) or <paramref name="path"/> is a folder; the old file is untouched.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = ResolveTarget(path);
        string temp = TempPath(target, TempSuffix);
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Stream stream = Wrap(file);
                write(stream);
                stream.Flush();
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            throw Explain(e, path, temp, target);
        }
    }

    /// <summary>Asynchronous <see cref="Write"/>.</summary>
    /// <param name="path">The file to create or replace. A symbolic link is followed: its target is replaced.</param>
    /// <param name="write">Writes the whole content to the stream it is given (which it must not dispose).</param>
    /// <param name="cancellationToken">Cancels writing; the old file is then untouched.</param>
    /// <returns>A task that completes once the new file is in place.</returns>
    /// <exception cref="IOException">Writing failed (for example a full disk) or <paramref name="path"/> is a folder; the old file is untouched.</exception>
    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = ResolveTarget(path);
        string temp = TempPath(target, TempSuffix);
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                Stream stream = Wrap(file);
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            throw Explain(e, path, temp, target);
        }
    }

    /// <summary>Writes <paramref name="contents"/> as UTF-8 (no byte order mark) through <see cref="Write"/>.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="contents">The text.</param>
    public static void WriteAllText(string path, string contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        WriteAllBytes(path, Utf8NoBom.GetBytes(contents));
    }

    /// <summary>Writes <paramref name="contents"/> as UTF-8 (no byte order mark) through <see cref="WriteAsync"/>.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="contents">The text.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>A task that completes once the new file is in place.</returns>
    public static Task WriteAllTextAsync(string path, string contents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contents);
        byte[] bytes = Utf8NoBom.GetBytes(contents);
        return WriteAsync(path, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), cancellationToken);
    }

    /// <summary>Writes <paramref name="bytes"/> through <see cref="Write"/>.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="bytes">The content.</param>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, s => s.Write(bytes));
    }

    /// <summary>
    /// Writes a folder as one unit: <paramref name="write"/> fills a fresh temporary folder next to
    /// <paramref name="directory"/>, which then takes the target's place. When the target folder holds only files that
    /// the new version also has (a folder MagDi owns, like a run's <c>adapter/</c> or a checkpoint), the two are swapped in
    /// one step (Linux <c>renameat2</c> exchange; elsewhere two renames, with <see cref="DeleteLeftovers"/> restoring the
    /// old folder if a kill falls between them). When it also holds other files (a tokenizer next to a saved model, a
    /// user's notes), those are kept: each new file is renamed into the folder on its own, other files first and
    /// <c>.json</c> files (the configuration that names the set) last.
    /// </summary>
    /// <param name="directory">The folder to create or replace.</param>
    /// <param name="write">Writes every file of the new version into the folder it is given.</param>
    /// <exception cref="IOException">
    /// Writing failed or <paramref name="directory"/> is a file. The old folder is untouched, except in a shared folder
    /// where the new files renamed in before the failure stay.
    /// </exception>
    public static void WriteDirectory(string directory, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(write);
        // The writer is synchronous, so the shared path below completes before it returns.
        WriteDirectoryCoreAsync(directory, temp =>
        {
            write(temp);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();
    }

    /// <summary>
    /// <see cref="WriteDirectory"/> for a writer that works asynchronously: the same temporary folder, swap or merge, and
    /// clean-up. When <paramref name="write"/> fails or is cancelled, the old folder is untouched and no temporary folder
    /// is left.
    /// </summary>
    /// <param name="directory">The folder to create or replace.</param>
    /// <param name="write">Writes every file of the new version into the folder it is given.</param>
    /// <param name="cancellationToken">Passed to <paramref name="write"/>.</param>
    /// <exception cref="IOException">Writing failed or <paramref name="directory"/> is a file.</exception>
    public static Task WriteDirectoryAsync(string directory, Func<string, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(write);
        return WriteDirectoryCoreAsync(directory, temp => write(temp, cancellationToken));
    }

    private static async Task WriteDirectoryCoreAsync(string directory, Func<string, Task> write)
    {
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (File.Exists(target))
        {
            throw new IOException($"'{directory}' is a file; a folder was expected there.");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string temp = TempPath(target, TempSuffix);
        Directory.CreateDirectory(temp);
        try
        {
            await write(temp).ConfigureAwait(false);
            if (!Directory.Exists(target))
            {
                Directory.Move(temp, target);
                return;
            }

            var produced = new HashSet<string>(Directory.EnumerateFileSystemEntries(temp).Select(Path.GetFileName)!, StringComparer.Ordinal);
            bool owned = Directory.EnumerateFileSystemEntries(target)
                .Select(Path.GetFileName)
                .All(name => produced.Contains(name!) || IsLeftoverName(name!));
            // Never swap away the folder the process runs in (SavePretrained(".")): its working directory would vanish.
            string cwd = Path.TrimEndingDirectorySeparator(Environment.CurrentDirectory) + Path.DirectorySeparatorChar;
            bool holdsCwd = cwd.StartsWith(target + Path.DirectorySeparatorChar, StringComparison.Ordinal);
            if (owned && !holdsCwd)
            {
                Swap(temp, target);
            }
            else
            {
                MergeInto(temp, target);
            }
        }
        catch (IOException e) when (e.GetType() == typeof(IOException) && e.Message.Contains(temp, StringComparison.Ordinal))
        {
            // Name the folder the user asked for, not its temporary stand-in.
            throw new IOException(e.Message.Replace(temp, target, StringComparison.Ordinal), e);
        }
        finally
        {
            // After a swap the temporary name holds the old version; after a merge only what was not moved.
            if (Directory.Exists(temp))
            {
                TryDeleteDirectory(temp);
            }
        }
    }

    /// <summary>
    /// Appends one line (a newline is added) in a single write. If the write fails (for example on a full disk) the file
    /// is cut back to its previous length, so it never ends in a partial line of this call.
    /// </summary>
    /// <param name="path">The file (created when missing).</param>
    /// <param name="line">The line, without its newline.</param>
    public static void AppendLine(string path, string line)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(line);
        byte[] bytes = Utf8NoBom.GetBytes(line + "\n");
        using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
        long length = file.Seek(0, SeekOrigin.End);
        try
        {
            Stream stream = Wrap(file);
            stream.Write(bytes);
            stream.Flush();
        }
        catch (IOException)
        {
            try
            {
                file.SetLength(length);
            }
            catch (IOException)
            {
                // The disk refuses even the truncation; the reader of the log drops an unfinished last line.
            }

            throw;
        }
    }

    /// <summary>
    /// Removes a folder at once: it is renamed to a temporary name first and then deleted, so a kill during the deletion
    /// leaves no half-deleted folder under its real name, only a temporary one for <see cref="DeleteLeftovers"/>.
    /// </summary>
    /// <param name="directory">The folder (nothing happens when it does not exist).</param>
    public static void DeleteDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!Directory.Exists(target))
        {
            return;
        }

        string temp = TempPath(target, TempSuffix);
        Directory.Move(target, temp);
        Directory.Delete(temp, recursive: true);
    }

    /// <summary>
    /// Removes what killed runs left in <paramref name="directory"/>: entries named like MagDi's temporary files and
    /// folders (<c>.name.&lt;32 hex digits&gt;.magdi-tmp</c>, and <c>.tmp-checkpoint-&lt;step&gt;-&lt;32 hex digits&gt;</c> of
    /// earlier versions). A folder set aside during a replacement (<c>.name.&lt;id&gt;.magdi-old</c>) is renamed back when
    /// the replacement never arrived, and deleted otherwise. Nothing else is touched; call it at the start of a run,
    /// never while another run writes to the same folder.
    /// </summary>
    /// <param name="directory">The folder (not searched recursively; nothing happens when it does not exist).</param>
    /// <param name="name">Only leftovers of this file or folder name; null for all.</param>
    /// <returns>The number of entries removed or restored.</returns>
    public static int DeleteLeftovers(string directory, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        string? filter = name is null ? null : Truncate(name);
        int count = 0;
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory).ToList())
        {
            string entryName = Path.GetFileName(entry);
            Match m = LeftoverPattern().Match(entryName);
            bool ours = m.Success
                ? filter is null || string.Equals(m.Groups["name"].Value, filter, StringComparison.Ordinal)
                : filter is null && LegacyCheckpointPattern().IsMatch(entryName);
            if (!ours)
            {
                continue;
            }

            if (m.Success && m.Groups["kind"].Value == "old")
            {
                string original = Path.Combine(directory, m.Groups["name"].Value);
                if (m.Groups["name"].Value.Length < MaxNameInTemp && !Path.Exists(original))
                {
                    if (Directory.Exists(entry))
                    {
                        Directory.Move(entry, original);
                    }
                    else
                    {
                        File.Move(entry, original);
                    }

                    count++;
                    continue;
                }
            }

            if (Directory.Exists(entry) && !IsSymbolicLink(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }

            count++;
        }

        return count;
    }

    /// <summary>Whether <paramref name="name"/> is one of MagDi's temporary names (see <see cref="DeleteLeftovers"/>).</summary>
    internal static bool IsLeftoverName(string name) => LeftoverPattern().IsMatch(name) || LegacyCheckpointPattern().IsMatch(name);

    /// <summary>
    /// Test seam: in the calling flow (and tasks it starts), every stream of this class fails with "No space left on
    /// device" once <paramref name="bytes"/> bytes have been written in total, as a full disk does.
    /// </summary>
    /// <returns>The simulated disk; dispose it to end the limit.</returns>
    internal static SimulatedDisk LimitBytesForTesting(long bytes)
    {
        var previous = s_quota.Value;
        var quota = new DiskQuota(bytes);
        s_quota.Value = quota;
        return new SimulatedDisk(quota, () => s_quota.Value = previous);
    }

    /// <summary>
    /// A plain <see cref="IOException"/> (a full disk, a refused rename) names the temporary file; the user needs the file
    /// they asked for. Other exceptions, thrown by the caller's writer, pass unchanged.
    /// </summary>
    private static IOException Explain(Exception e, string path, string temp, string target)
    {
        if (e.GetType() != typeof(IOException) || e.Message.StartsWith("Could not write ", StringComparison.Ordinal))
        {
            ExceptionDispatchInfo.Throw(e);
        }

        return new IOException($"Could not write '{path}': {e.Message.Replace(temp, target, StringComparison.Ordinal)}", e);
    }

    private static Stream Wrap(FileStream file) => s_quota.Value is { } quota ? new QuotaStream(file, quota) : file;

    private static string ResolveTarget(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new IOException($"'{path}' is a folder; a file was expected there.");
        }

        if (new FileInfo(full).LinkTarget is not null && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } final)
        {
            full = final.FullName;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }

    private static string TempPath(string target, string suffix)
    {
        string dir = Path.GetDirectoryName(target)!;
        string id = Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
        return Path.Combine(dir, "." + Truncate(Path.GetFileName(target)) + "." + id + suffix);
    }

    private static string Truncate(string name) => name.Length <= MaxNameInTemp ? name : name[..MaxNameInTemp];

    private static void Swap(string temp, string target)
    {
        if (LinuxFileSystem.TryExchange(temp, target))
        {
            return;
        }

        // Two renames: a kill between them leaves the old folder under a .magdi-old name, which DeleteLeftovers restores.
        string old = TempPath(target, OldSuffix);
        Directory.Move(target, old);
        try
        {
            Directory.Move(temp, target);
        }
        catch
        {
            Directory.Move(old, target);
            throw;
        }

        TryDeleteDirectory(old);
    }

    private static void MergeInto(string temp, string target)
    {
        var entries = Directory.EnumerateFileSystemEntries(temp)
            .OrderBy(e => e.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .ThenBy(e => e, StringComparer.Ordinal)
            .ToList();
        foreach (string entry in entries)
        {
            string destination = Path.Combine(target, Path.GetFileName(entry));
            if (Directory.Exists(entry))
            {
                WriteDirectory(destination, sub => MoveContents(entry, sub));
            }
            else
            {
                File.Move(entry, destination, overwrite: true);
            }
        }
    }

    private static void MoveContents(string from, string to)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(from))
        {
            string destination = Path.Combine(to, Path.GetFileName(entry));
            if (Directory.Exists(entry))
            {
                Directory.Move(entry, destination);
            }
            else
            {
                File.Move(entry, destination);
            }
        }
    }

    private static bool IsSymbolicLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Left for DeleteLeftovers: its name marks it as MagDi's.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Left for DeleteLeftovers: its name marks it as MagDi's.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    [GeneratedRegex(@"^\.(?<name>.+)\.[0-9a-f]{32}\.magdi-(?<kind>tmp|old)$", RegexOptions.CultureInvariant)]
    private static partial Regex LeftoverPattern();

    /// <summary>The temporary checkpoint folders of MagDi before this class (<c>.tmp-checkpoint-12-&lt;guid&gt;</c>).</summary>
    [GeneratedRegex(@"^\.tmp-checkpoint-[0-9]+-[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex LegacyCheckpointPattern();

    /// <summary>A simulated full disk in one test flow (see <see cref="LimitBytesForTesting"/>).</summary>
    internal sealed class SimulatedDisk : IDisposable
    {
        private readonly DiskQuota _quota;
        private readonly Action _restore;

        internal SimulatedDisk(DiskQuota quota, Action restore)
        {
            _quota = quota;
            _restore = restore;
        }

        /// <summary>The bytes written through this class so far.</summary>
        public long Written => _quota.Written;

        public void Dispose() => _restore();
    }

    /// <summary>Bytes left before the simulated disk is full, shared by every stream of one test flow.</summary>
    internal sealed class DiskQuota(long bytes)
    {
        private readonly Lock _gate = new();
        private readonly long _size = bytes;
        private long _remaining = bytes;

        public long Written
        {
            get
            {
                lock (_gate)
                {
                    return _size - _remaining;
                }
            }
        }

        /// <summary>How many of <paramref name="count"/> bytes still fit (all of them, or fewer when the disk fills up).</summary>
        public int Take(int count)
        {
            lock (_gate)
            {
                int granted = (int)Math.Min(count, _remaining);
                _remaining -= granted;
                return granted;
            }
        }
    }

    /// <summary>A write-only pass-through stream that charges every write to a <see cref="DiskQuota"/>.</summary>
    private sealed class QuotaStream(Stream inner, DiskQuota quota) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => throw new NotSupportedException();
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            // Like a full disk: what still fits is written, then the write fails.
            int granted = quota.Take(buffer.Length);
            inner.Write(buffer[..granted]);
            if (granted < buffer.Length)
            {
                inner.Flush();
                throw new IOException("No space left on device (simulated full disk)");
            }
        }

        public override void WriteByte(byte value) => Write([value]);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int granted = quota.Take(buffer.Length);
            await inner.WriteAsync(buffer[..granted], cancellationToken).ConfigureAwait(false);
            if (granted < buffer.Length)
            {
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
                throw new IOException("No space left on device (simulated full disk)");
            }
        }
    }
}
