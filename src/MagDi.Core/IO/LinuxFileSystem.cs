using System.Runtime.InteropServices;
using System.Text;

namespace MagDi.IO;

/// <summary>
/// The one Linux system call .NET does not expose that atomic folder replacement needs: <c>renameat2</c> with
/// <c>RENAME_EXCHANGE</c>, which swaps two paths in one step. Looked up at run time from glibc; where it is missing
/// (other systems, musl without it, old kernels, file systems without exchange) callers fall back to two renames.
/// </summary>
internal static unsafe class LinuxFileSystem
{
    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    private static readonly delegate* unmanaged<int, byte*, int, byte*, uint, int> s_renameat2 = Resolve();

    /// <summary>Atomically swaps the two existing paths. False when the system cannot (the caller then falls back).</summary>
    /// <exception cref="IOException">The swap was possible but failed (permissions, a path vanished).</exception>
    public static bool TryExchange(string first, string second)
    {
        if (s_renameat2 == null)
        {
            return false;
        }

        byte[] a = ToCString(first);
        byte[] b = ToCString(second);
        int result;
        int errno;
        fixed (byte* pa = a)
        fixed (byte* pb = b)
        {
            result = s_renameat2(AtFdCwd, pa, AtFdCwd, pb, RenameExchange);
            errno = Marshal.GetLastSystemError();
        }

        if (result == 0)
        {
            return true;
        }

        // ENOSYS 38, EINVAL 22 (flag or file system unsupported), EXDEV 18, EPERM 1 (some FUSE file systems), ENOTSUP 95.
        if (errno is 38 or 22 or 18 or 1 or 95)
        {
            return false;
        }

        throw new IOException($"Could not swap '{first}' and '{second}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    private static byte[] ToCString(string path)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    private static delegate* unmanaged<int, byte*, int, byte*, uint, int> Resolve()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        foreach (string name in new[] { "libc.so.6", "libc" })
        {
            if (NativeLibrary.TryLoad(name, out IntPtr handle) && NativeLibrary.TryGetExport(handle, "renameat2", out IntPtr address))
            {
                return (delegate* unmanaged<int, byte*, int, byte*, uint, int>)address;
            }
        }

        return null;
    }
}
