using System.Runtime.InteropServices;
using TorchSharp;

namespace MagDi.Runtime;

/// <summary>
/// Loads TorchSharp's native backend once, fixing the known Linux loading problem of TorchSharp 0.107.0
/// in the application's own output folder, and turning any remaining failure into one clear
/// <see cref="TorchRuntimeException"/>.
/// </summary>
/// <remarks>
/// Applications that reference the MagDi.Core package get the same fix at build time (a buildTransitive
/// MSBuild target). This runtime step covers output that was produced without it, for example by copying
/// files by hand. It only ever edits the copy of <c>libLibTorchSharp.so</c> in the application folder,
/// never the NuGet cache, and does nothing on Windows, macOS or a Linux whose libstdc++ is new enough.
/// </remarks>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static bool _initialized;

    /// <summary>Makes sure the native backend is loaded; safe to call many times and from many threads.</summary>
    /// <exception cref="TorchRuntimeException">The native backend cannot be loaded; the message says which library and what to do.</exception>
    public static void EnsureInitialized()
    {
        if (Volatile.Read(ref _initialized))
        {
            return;
        }

        lock (Gate)
        {
            if (_initialized)
            {
                return;
            }

            string? patchNote = null;
            if (OperatingSystem.IsLinux())
            {
                patchNote = PatchApplicationCopies(AppContext.BaseDirectory);
            }

            try
            {
                // Any call that touches the native library triggers TorchSharp's loader.
                _ = torch.get_default_dtype();
                using var probe = torch.zeros(1);
            }
            catch (Exception ex) when (ex is TypeInitializationException or NotSupportedException or DllNotFoundException)
            {
                throw new TorchRuntimeException(Explain(ex, patchNote), ex);
            }

            Volatile.Write(ref _initialized, true);
        }
    }

    /// <summary>Whether a CUDA device is usable by the loaded backend.</summary>
    public static bool IsCudaAvailable
    {
        get
        {
            EnsureInitialized();
            return torch.cuda.is_available();
        }
    }

    /// <summary>
    /// Resolves a device name: <c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of those forms.</exception>
    /// <exception cref="TorchRuntimeException">CUDA was asked for but the loaded backend has none.</exception>
    public static torch.Device ResolveDevice(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        EnsureInitialized();
        string n = name.Trim().ToLowerInvariant();
        if (n == "auto")
        {
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        }

        if (n == "cpu")
        {
            return torch.CPU;
        }

        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
            {
                throw new TorchRuntimeException(
                    $"Device '{name}' was requested but the loaded TorchSharp backend has no usable CUDA device. " +
                    "Reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of TorchSharp-cpu in the application " +
                    "(for the MagDi samples: build with -p:TorchBackend=cuda-linux), and check the NVIDIA driver.");
            }

            return new torch.Device(n);
        }

        throw new ArgumentException($"Unknown device '{name}'. Use 'auto', 'cpu', 'cuda' or 'cuda:N'.", nameof(name));
    }

    private static string? PatchApplicationCopies(string baseDirectory)
    {
        if (LibTorchSharpPatcher.SystemLibStdCxxDefines(LibTorchSharpPatcher.UnusedGlibcxxVersion) || !Directory.Exists(baseDirectory))
        {
            return null;
        }

        var notes = new List<string>();
        foreach (string path in Directory.EnumerateFiles(baseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            try
            {
                ElfPatchOutcome outcome = LibTorchSharpPatcher.PatchFile(path, LibTorchSharpPatcher.UnusedGlibcxxVersion);
                if (outcome == ElfPatchOutcome.Patched)
                {
                    notes.Add($"made the {LibTorchSharpPatcher.UnusedGlibcxxVersion} need of '{path}' weak");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                notes.Add($"could not patch '{path}': {ex.Message}");
            }
        }

        return notes.Count == 0 ? null : string.Join("; ", notes);
    }

    private static string Explain(Exception ex, string? patchNote)
    {
        string root = ex.InnerException?.Message ?? ex.Message;
        string os = RuntimeInformation.OSDescription;
        var message = new System.Text.StringBuilder();
        message.Append("TorchSharp's native backend (libLibTorchSharp with libtorch) could not be loaded on ")
            .Append(os).Append(" (").Append(RuntimeInformation.ProcessArchitecture).Append("). ");
        if (root.Contains("doesn't contain a reference to libtorch", StringComparison.Ordinal))
        {
            message.Append("Either no native backend package is referenced, or it failed to load. ")
                .Append("Reference exactly one of TorchSharp-cpu, TorchSharp-cuda-linux or TorchSharp-cuda-windows (version 0.107.0) in the application project. ");
        }

        if (OperatingSystem.IsLinux() && !LibTorchSharpPatcher.SystemLibStdCxxDefines(LibTorchSharpPatcher.UnusedGlibcxxVersion))
        {
            message.Append("This system's libstdc++ lacks ").Append(LibTorchSharpPatcher.UnusedGlibcxxVersion)
                .Append(", which TorchSharp 0.107.0 asks for; MagDi marks that need weak in the application's copy of libLibTorchSharp.so ")
                .Append("at build time (MagDi.Core.targets) and at start-up. Make sure the application folder is writable or rebuild it with the MagDi.Core package referenced. ");
        }

        if (patchNote is not null)
        {
            message.Append("Start-up fix-up: ").Append(patchNote).Append(". ");
        }

        message.Append("Underlying error: ").Append(root);
        return message.ToString();
    }
}

/// <summary>The TorchSharp native backend could not be loaded or a requested device is not available.</summary>
public sealed class TorchRuntimeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TorchRuntimeException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TorchRuntimeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying failure.</summary>
    public TorchRuntimeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
