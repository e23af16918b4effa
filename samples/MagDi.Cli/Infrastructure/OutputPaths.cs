using System.Runtime.InteropServices;
using Spectre.Console;

namespace MagDi.Cli.Infrastructure;

/// <summary>
/// Refuses an output path that is one of the command's inputs: the same path, the same file reached through a symbolic
/// link, or (on Linux) a hard link to it. Writing there would replace the input with the output.
/// </summary>
internal static class OutputPaths
{
    private static readonly StringComparer PathComparer =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>An error naming both options when <paramref name="output"/> is the same file as one of <paramref name="inputs"/>; success otherwise.</summary>
    /// <param name="outputOption">The output's option, e.g. <c>--out</c>.</param>
    /// <param name="output">The output file.</param>
    /// <param name="inputs">Each input's option and path (null paths are ignored).</param>
    public static ValidationResult CheckNotAnInput(string outputOption, string output, params (string Option, string? Path)[] inputs)
    {
        foreach (var (option, path) in inputs)
        {
            if (!string.IsNullOrWhiteSpace(path) && SameFile(output, path))
            {
                return ValidationResult.Error(
                    $"{outputOption}: '{output}' is the same file as {option} '{path}'; writing it would replace the input. Choose another output path.");
            }
        }

        return ValidationResult.Success();
    }

    /// <summary>Whether two paths name the same file.</summary>
    public static bool SameFile(string a, string b)
    {
        if (PathComparer.Equals(RealPath(a), RealPath(b)))
        {
            return true;
        }

        return File.Exists(a) && File.Exists(b) && LinuxFileId.Of(a) is { } idA && LinuxFileId.Of(b) is { } idB && idA == idB;
    }

    /// <summary>The absolute path with every symbolic link along it resolved (missing parts are kept as written).</summary>
    internal static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full)!;
        string current = root;
        string[] parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            current = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is null)
            {
                continue;
            }

            try
            {
                FileSystemInfo? target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is not null)
                {
                    current = RealPath(target.FullName);
                }
            }
            catch (IOException)
            {
                // A link loop: compare the path as written.
            }
        }

        return current;
    }

    /// <summary>The (device, inode) pair of a file on Linux, through <c>statx</c> (whose layout is the same on every architecture).</summary>
    private static class LinuxFileId
    {
        private const int AtFdCwd = -100;
        private const uint StatxIno = 0x100;

        private static readonly StatxFunction? s_statx = Resolve();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int StatxFunction(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

        public static (uint Major, uint Minor, ulong Inode)? Of(string path)
        {
            if (s_statx is null)
            {
                return null;
            }

            byte[] buffer = new byte[256];
            if (s_statx(AtFdCwd, Path.GetFullPath(path), 0, StatxIno, buffer) != 0)
            {
                return null;
            }

            return (BitConverter.ToUInt32(buffer, 136), BitConverter.ToUInt32(buffer, 140), BitConverter.ToUInt64(buffer, 32));
        }

        private static StatxFunction? Resolve()
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            foreach (string name in new[] { "libc.so.6", "libc" })
            {
                if (NativeLibrary.TryLoad(name, out IntPtr handle) && NativeLibrary.TryGetExport(handle, "statx", out IntPtr address))
                {
                    return Marshal.GetDelegateForFunctionPointer<StatxFunction>(address);
                }
            }

            return null;
        }
    }
}
