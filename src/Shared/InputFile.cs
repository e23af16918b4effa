using System.Runtime.InteropServices;
using System.Text;

namespace MagDi.IO;

/// <summary>
/// How MagDi opens the files it reads (data, tokenizer, model and checkpoint files): only regular files, because a
/// FIFO, socket or device given as an input (or placed in a model folder) blocks forever or never ends; within a size
/// limit checked before anything is allocated; and text decoded as strict UTF-8, so invalid bytes are an error
/// naming the file instead of silently becoming U+FFFD.
/// </summary>
/// <remarks>
/// Symbolic links are followed: a link to a regular file is accepted. On Windows, where a named pipe cannot be
/// reached through an ordinary path, paths in the device namespace (<c>\\.\</c>) are refused and everything else that
/// exists and is not a directory is accepted.
/// </remarks>
internal static partial class InputFile
{
    // The file type bits of FileStatus.Mode in .NET's own native shim (System.Native), the same on every Unix.
    private const int TypeMask = 0xF000;
    private const int Fifo = 0x1000;
    private const int CharacterDevice = 0x2000;
    private const int Directory = 0x4000;
    private const int BlockDevice = 0x6000;
    private const int Regular = 0x8000;
    private const int Socket = 0xC000;

    private static bool _statUnavailable;

    /// <summary>A UTF-8 encoding (no byte-order mark on writing) that throws <see cref="DecoderFallbackException"/> on invalid bytes.</summary>
    public static UTF8Encoding StrictUtf8 { get; } = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Why <paramref name="path"/> cannot be read as an input file, or <see langword="null"/> when it is an existing regular file.</summary>
    /// <param name="path">The path.</param>
    /// <returns>A short reason such as "file not found" or "not a regular file but a FIFO (named pipe)", or null.</returns>
    public static string? Problem(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (System.IO.Directory.Exists(path))
        {
            return "is a directory, not a file";
        }

        if (!File.Exists(path))
        {
            return "file not found";
        }

        if (OperatingSystem.IsWindows())
        {
            return Path.GetFullPath(path).StartsWith(@"\\.\", StringComparison.Ordinal) ? "is a device path, not a regular file" : null;
        }

        return FileType(path) switch
        {
            null or Regular => null,
            Fifo => "is not a regular file but a FIFO (named pipe); MagDi reads only regular files, a FIFO would block until something writes to it",
            CharacterDevice => "is not a regular file but a character device; MagDi reads only regular files",
            BlockDevice => "is not a regular file but a block device; MagDi reads only regular files",
            Socket => "is not a regular file but a socket; MagDi reads only regular files",
            Directory => "is a directory, not a file",
            _ => "is not a regular file; MagDi reads only regular files",
        };
    }

    /// <summary>Throws unless <paramref name="path"/> is an existing regular file.</summary>
    /// <param name="path">The path.</param>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">It exists but is a directory, FIFO, socket or device (the message names the path).</exception>
    public static void EnsureRegular(string path)
    {
        if (Problem(path) is { } problem)
        {
            throw problem == "file not found"
                ? new FileNotFoundException($"{path}: file not found.", path)
                : new InvalidDataException($"{path}: {problem}.");
        }
    }

    /// <summary>Opens a regular file for reading (shared read).</summary>
    /// <param name="path">The file.</param>
    /// <param name="bufferSize">The stream's buffer size.</param>
    /// <returns>The open stream.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a regular file.</exception>
    public static FileStream OpenRead(string path, int bufferSize = 4096)
    {
        EnsureRegular(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    /// <summary>Reads a whole regular file, refusing one larger than <paramref name="maxBytes"/> before reading it.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest accepted size in bytes.</param>
    /// <returns>The content.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a regular file, or it is larger than <paramref name="maxBytes"/>.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        using FileStream stream = OpenRead(path, 1);
        byte[] bytes = new byte[CheckedLength(path, stream, maxBytes)];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Reads a whole regular file, refusing one larger than <paramref name="maxBytes"/> before reading it.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest accepted size in bytes.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The content.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a regular file, or it is larger than <paramref name="maxBytes"/>.</exception>
    public static async Task<byte[]> ReadAllBytesAsync(string path, long maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        FileStream stream = OpenRead(path, 1);
        await using (stream.ConfigureAwait(false))
        {
            byte[] bytes = new byte[CheckedLength(path, stream, maxBytes)];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            return bytes;
        }
    }

    /// <summary>Reads a whole regular file as strict UTF-8 text (a leading byte-order mark is skipped).</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest accepted size in bytes.</param>
    /// <returns>The text.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a regular file, is too large, or is not valid UTF-8 (the message names the line).</exception>
    public static string ReadAllText(string path, long maxBytes)
    {
        byte[] bytes = ReadAllBytes(path, maxBytes);
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith("\uFEFF"u8))
        {
            span = span[3..];
        }

        if (MagDi.Tasks.JsonLinesReader.FirstInvalidUtf8Line(span) is { } line)
        {
            throw new InvalidDataException($"{path}: line {line}: invalid UTF-8.");
        }

        return StrictUtf8.GetString(span);
    }

    private static int CheckedLength(string path, FileStream stream, long maxBytes)
    {
        long length = stream.Length;
        long limit = Math.Min(maxBytes, Array.MaxLength);
        if (length > limit)
        {
            throw new InvalidDataException($"{path}: the file is {length:N0} bytes, over the limit of {limit:N0} bytes for this kind of file.");
        }

        return (int)length;
    }

    /// <summary>The file type bits of <c>stat(path)</c>, or null when they cannot be read.</summary>
    private static int? FileType(string path)
    {
        if (_statUnavailable)
        {
            return null;
        }

        try
        {
            // FileStatus is about 130 bytes; a larger buffer stays safe if a later runtime appends fields.
            Span<byte> status = stackalloc byte[512];
            status.Clear();
            if (SystemNativeStat(path, ref MemoryMarshal.GetReference(status)) != 0)
            {
                return null;
            }

            // struct FileStatus { int32 Flags; int32 Mode; ... }
            return MemoryMarshal.Read<int>(status[4..]) & TypeMask;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // A host that links System.Native statically (single-file, NativeAOT): the type cannot be checked.
            _statUnavailable = true;
            return null;
        }
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SystemNativeStat(string path, ref byte output);
}
