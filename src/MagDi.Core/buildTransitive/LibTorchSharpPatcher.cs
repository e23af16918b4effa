// This file is compiled twice: into MagDi.Core (as an internal helper used by TorchRuntime, with
// MAGDI_LIBRARY defined) and, from the NuGet package's buildTransitive folder, as an inline MSBuild
// task that fixes up the copy of libLibTorchSharp.so in a consumer's build output.
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so lists GLIBCXX_3.4.32 among its version needs for one
// symbol (std::ios_base_library_init) that no relocation uses. glibc refuses to load a library whose
// non-weak version need is missing, so on Debian 12 / Ubuntu 22.04 (GLIBCXX_3.4.30) TorchSharp fails
// at first use. Marking that single Vernaux entry weak (vna_flags |= VER_FLG_WEAK) makes the dynamic
// loader accept the missing version; since nothing binds to a symbol of that version the library
// then runs correctly. Only build output (or a private copy) is ever edited, never the NuGet cache.
using System;
using System.IO;
using System.Text;

// The same source compiles inside MSBuild's inline task host, so it sticks to APIs every host has.
#pragma warning disable CA1510 // ArgumentNullException.ThrowIfNull is not available in every MSBuild task host

#if MAGDI_LIBRARY
namespace MagDi.Runtime;

#endif

/// <summary>What <see cref="LibTorchSharpPatcher"/> did to an ELF image.</summary>
#if MAGDI_LIBRARY
internal
#else
public
#endif
enum ElfPatchOutcome
{
    /// <summary>The version need was strong and is now weak.</summary>
    Patched,

    /// <summary>The version need was already weak; nothing changed.</summary>
    AlreadyWeak,

    /// <summary>The image has no need for that version; nothing changed.</summary>
    NoSuchNeed,

    /// <summary>The image is not a 64-bit little-endian ELF shared object with section headers; nothing changed.</summary>
    NotApplicable,
}

/// <summary>Marks one GNU symbol-version need of an ELF64 shared object as weak.</summary>
#if MAGDI_LIBRARY
internal
#else
public
#endif
static class LibTorchSharpPatcher
{
    /// <summary>The libstdc++ version TorchSharp 0.107.0 asks for but does not use.</summary>
    public const string UnusedGlibcxxVersion = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Edits <paramref name="image"/> in place so that its need for <paramref name="versionName"/> is weak.</summary>
    public static ElfPatchOutcome MakeVersionNeedWeak(byte[] image, string versionName)
    {
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (versionName is null) throw new ArgumentNullException(nameof(versionName));

        // ELF header: magic, class (2 = 64-bit), data (1 = little-endian).
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F'
            || image[4] != 2 || image[5] != 1)
        {
            return ElfPatchOutcome.NotApplicable;
        }

        ulong shoff = ReadU64(image, 0x28);
        int shentsize = ReadU16(image, 0x3A);
        int shnum = ReadU16(image, 0x3C);
        if (shoff == 0 || shnum == 0 || shentsize < 64 || shoff + (ulong)shnum * (ulong)shentsize > (ulong)image.Length)
        {
            return ElfPatchOutcome.NotApplicable;
        }

        byte[] wanted = Encoding.ASCII.GetBytes(versionName);
        for (int s = 0; s < shnum; s++)
        {
            long sh = (long)shoff + (long)s * shentsize;
            if (ReadU32(image, sh + 4) != ShtGnuVerneed)
            {
                continue;
            }

            long verneedOffset = checked((long)ReadU64(image, sh + 0x18));
            long verneedSize = checked((long)ReadU64(image, sh + 0x20));
            int link = (int)ReadU32(image, sh + 0x28);   // index of the string table (.dynstr)
            int count = (int)ReadU32(image, sh + 0x2C);  // number of Verneed entries
            if (link >= shnum || verneedOffset + verneedSize > image.Length)
            {
                return ElfPatchOutcome.NotApplicable;
            }

            long strtab = checked((long)ReadU64(image, (long)shoff + (long)link * shentsize + 0x18));
            long need = verneedOffset;
            for (int n = 0; n < count; n++)
            {
                // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
                int auxCount = ReadU16(image, need + 2);
                long aux = need + ReadU32(image, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
                    long name = strtab + ReadU32(image, aux + 8);
                    if (NameEquals(image, name, wanted))
                    {
                        ushort flags = ReadU16(image, aux + 4);
                        if ((flags & VerFlgWeak) != 0)
                        {
                            return ElfPatchOutcome.AlreadyWeak;
                        }

                        flags |= VerFlgWeak;
                        image[aux + 4] = (byte)(flags & 0xff);
                        image[aux + 5] = (byte)(flags >> 8);
                        return ElfPatchOutcome.Patched;
                    }

                    uint nextAux = ReadU32(image, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }

                uint next = ReadU32(image, need + 12);
                if (next == 0) break;
                need += next;
            }

            return ElfPatchOutcome.NoSuchNeed;
        }

        return ElfPatchOutcome.NoSuchNeed;
    }

    /// <summary>
    /// Makes the need for <paramref name="versionName"/> of the ELF file at <paramref name="path"/> weak.
    /// The file is rewritten through a temporary file and a rename, so a reader never sees half a file.
    /// </summary>
    public static ElfPatchOutcome PatchFile(string path, string versionName)
    {
        byte[] image = File.ReadAllBytes(path);
        ElfPatchOutcome outcome = MakeVersionNeedWeak(image, versionName);
        if (outcome != ElfPatchOutcome.Patched)
        {
            return outcome;
        }

        // Write a new file and rename it over the old one: the rename replaces the directory entry, so when the
        // output copy is a hard link into the NuGet cache (CreateHardLinksForCopyLocalIfPossible), the cache keeps
        // its original file. Writing into the existing file would change the cache too.
        string temp = path + ".magdi-tmp";
        File.WriteAllBytes(temp, image);
        // File.Replace (a rename on Unix) rather than File.Move(..., overwrite): this file is also compiled by
        // MSBuild's RoslynCodeTaskFactory against netstandard2.0, which has no overwriting Move.
        File.Replace(temp, path, destinationBackupFileName: null);
        return outcome;
    }

    /// <summary>
    /// True when the system's libstdc++ defines <paramref name="versionName"/>, in which case no patch is needed.
    /// Looks in the standard library folders of glibc distributions; false when no libstdc++ is found there.
    /// </summary>
    public static bool SystemLibStdCxxDefines(string versionName)
    {
        string[] folders =
        {
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };
        byte[] wanted = Encoding.ASCII.GetBytes(versionName + "\0");
        foreach (string folder in folders)
        {
            string candidate = Path.Combine(folder, "libstdc++.so.6");
            if (!File.Exists(candidate))
            {
                continue;
            }

            try
            {
                byte[] bytes = File.ReadAllBytes(candidate);
                return IndexOf(bytes, wanted) >= 0;
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }

        return false;
    }

    private static bool NameEquals(byte[] image, long offset, byte[] wanted)
    {
        if (offset < 0 || offset + wanted.Length >= image.Length) return false;
        for (int i = 0; i < wanted.Length; i++)
        {
            if (image[offset + i] != wanted[i]) return false;
        }

        return image[offset + wanted.Length] == 0;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i <= haystack.Length - needle.Length; i++)
        {
            if (haystack[i] != needle[0]) continue;
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }

        return -1;
    }

    private static ushort ReadU16(byte[] b, long o) => CheckedRange(b, o, 2) ? (ushort)(b[o] | (b[o + 1] << 8)) : (ushort)0;

    private static uint ReadU32(byte[] b, long o) =>
        CheckedRange(b, o, 4) ? (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) : 0u;

    private static ulong ReadU64(byte[] b, long o) => CheckedRange(b, o, 8) ? ReadU32(b, o) | ((ulong)ReadU32(b, o + 4) << 32) : 0ul;

    private static bool CheckedRange(byte[] b, long o, int n)
    {
        if (o < 0 || o + n > b.Length)
        {
            throw new InvalidDataException($"ELF image is truncated: read of {n} bytes at offset {o} is past its end ({b.Length} bytes).");
        }

        return true;
    }
}

#if !MAGDI_LIBRARY
/// <summary>MSBuild task: makes the unused GLIBCXX version need of each given libLibTorchSharp.so weak.</summary>
public class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    /// <summary>The libLibTorchSharp.so files in the build or publish output.</summary>
    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    /// <summary>Patch even when this machine's libstdc++ already has the version (for output that runs elsewhere).</summary>
    public bool Force { get; set; }

    /// <inheritdoc />
    public override bool Execute()
    {
        if (!Force && LibTorchSharpPatcher.SystemLibStdCxxDefines(LibTorchSharpPatcher.UnusedGlibcxxVersion))
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                "MagDi: this system's libstdc++ defines " + LibTorchSharpPatcher.UnusedGlibcxxVersion + "; libLibTorchSharp.so left as it is.");
            return true;
        }

        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                ElfPatchOutcome outcome = LibTorchSharpPatcher.PatchFile(path, LibTorchSharpPatcher.UnusedGlibcxxVersion);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, "MagDi: " + path + ": " + outcome);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is InvalidDataException)
            {
                Log.LogWarning("MagDi: could not make the " + LibTorchSharpPatcher.UnusedGlibcxxVersion + " need of '" + path
                    + "' weak: " + ex.Message + " TorchSharp may fail to load on systems with an older libstdc++.");
            }
        }

        return !Log.HasLoggedErrors;
    }
}
#endif

#if MAGDI_LIBRARY

#endif
