using System.Text;
using MagDi.Runtime;

namespace MagDi.Core.Tests.Runtime;

public sealed class LibTorchSharpPatcherTests
{
    /// <summary>
    /// Builds a minimal ELF64 little-endian image: header, .dynstr, .gnu.version_r with one Verneed for
    /// libstdc++.so.6 holding the given Vernaux versions, and a section header table.
    /// </summary>
    internal static byte[] BuildElfFixture(params (string Name, ushort Flags)[] versions)
    {
        // .dynstr: "\0libstdc++.so.6\0<v1>\0<v2>\0..."
        var dynstr = new List<byte> { 0 };
        int fileName = dynstr.Count;
        dynstr.AddRange(Encoding.ASCII.GetBytes("libstdc++.so.6\0"));
        var nameOffsets = new List<int>();
        foreach (var (name, _) in versions)
        {
            nameOffsets.Add(dynstr.Count);
            dynstr.AddRange(Encoding.ASCII.GetBytes(name + "\0"));
        }

        const int HeaderSize = 64;
        int dynstrOffset = HeaderSize;
        int verneedOffset = dynstrOffset + dynstr.Count;
        verneedOffset = (verneedOffset + 7) & ~7;
        int verneedSize = 16 + (16 * versions.Length);
        int shoff = (verneedOffset + verneedSize + 7) & ~7;
        const int Shnum = 3; // null, .dynstr, .gnu.version_r
        var image = new byte[shoff + (Shnum * 64)];

        image[0] = 0x7f; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F';
        image[4] = 2; image[5] = 1; image[6] = 1;
        W16(image, 0x10, 3);        // ET_DYN
        W16(image, 0x12, 62);       // EM_X86_64
        W64(image, 0x28, (ulong)shoff);
        W16(image, 0x34, HeaderSize);
        W16(image, 0x3A, 64);
        W16(image, 0x3C, Shnum);

        dynstr.ToArray().CopyTo(image, dynstrOffset);

        // Verneed
        W16(image, verneedOffset, 1);
        W16(image, verneedOffset + 2, (ushort)versions.Length);
        W32(image, verneedOffset + 4, (uint)fileName);
        W32(image, verneedOffset + 8, 16);
        W32(image, verneedOffset + 12, 0);
        for (int i = 0; i < versions.Length; i++)
        {
            int aux = verneedOffset + 16 + (16 * i);
            W32(image, aux, 0x1234);
            W16(image, aux + 4, versions[i].Flags);
            W16(image, aux + 6, (ushort)(i + 2));
            W32(image, aux + 8, (uint)nameOffsets[i]);
            W32(image, aux + 12, i == versions.Length - 1 ? 0u : 16u);
        }

        // Section 1: .dynstr (SHT_STRTAB)
        int sh1 = shoff + 64;
        W32(image, sh1 + 4, 3);
        W64(image, sh1 + 0x18, (ulong)dynstrOffset);
        W64(image, sh1 + 0x20, (ulong)dynstr.Count);
        // Section 2: .gnu.version_r
        int sh2 = shoff + 128;
        W32(image, sh2 + 4, 0x6ffffffe);
        W64(image, sh2 + 0x18, (ulong)verneedOffset);
        W64(image, sh2 + 0x20, (ulong)verneedSize);
        W32(image, sh2 + 0x28, 1);
        W32(image, sh2 + 0x2C, 1);
        return image;
    }

    private static ushort FlagsOf(byte[] image, int versionIndex)
    {
        int shoff = (int)BitConverter.ToUInt64(image, 0x28);
        int verneed = (int)BitConverter.ToUInt64(image, shoff + 128 + 0x18);
        return BitConverter.ToUInt16(image, verneed + 16 + (16 * versionIndex) + 4);
    }

    [Fact]
    public void MakeVersionNeedWeak_SetsOnlyTheWeakFlagOfTheNamedVersion()
    {
        byte[] image = BuildElfFixture(("GLIBCXX_3.4.30", 0), ("GLIBCXX_3.4.32", 0), ("CXXABI_1.3", 0));
        byte[] before = (byte[])image.Clone();

        ElfPatchOutcome outcome = LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32");

        Assert.Equal(ElfPatchOutcome.Patched, outcome);
        Assert.Equal(0, FlagsOf(image, 0));
        Assert.Equal(2, FlagsOf(image, 1));
        Assert.Equal(0, FlagsOf(image, 2));
        int changed = image.Zip(before).Count(p => p.First != p.Second);
        Assert.Equal(1, changed);
    }

    [Fact]
    public void MakeVersionNeedWeak_IsIdempotent()
    {
        byte[] image = BuildElfFixture(("GLIBCXX_3.4.32", 0));
        Assert.Equal(ElfPatchOutcome.Patched, LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32"));
        byte[] once = (byte[])image.Clone();

        Assert.Equal(ElfPatchOutcome.AlreadyWeak, LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32"));
        Assert.Equal(once, image);
    }

    [Fact]
    public void MakeVersionNeedWeak_KeepsOtherFlags()
    {
        byte[] image = BuildElfFixture(("GLIBCXX_3.4.32", 0x1));
        Assert.Equal(ElfPatchOutcome.Patched, LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32"));
        Assert.Equal(0x3, FlagsOf(image, 0));
    }

    [Fact]
    public void MakeVersionNeedWeak_DoesNotMatchAPrefixOfALongerName()
    {
        byte[] image = BuildElfFixture(("GLIBCXX_3.4.321", 0));
        byte[] before = (byte[])image.Clone();
        Assert.Equal(ElfPatchOutcome.NoSuchNeed, LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32"));
        Assert.Equal(before, image);
    }

    [Fact]
    public void MakeVersionNeedWeak_LeavesNonElfInputAlone()
    {
        byte[] text = Encoding.ASCII.GetBytes(new string('x', 200));
        byte[] before = (byte[])text.Clone();
        Assert.Equal(ElfPatchOutcome.NotApplicable, LibTorchSharpPatcher.MakeVersionNeedWeak(text, "GLIBCXX_3.4.32"));
        Assert.Equal(before, text);
    }

    [Fact]
    public void MakeVersionNeedWeak_ReportsATruncatedImage()
    {
        byte[] image = BuildElfFixture(("GLIBCXX_3.4.32", 0));
        int shoff = (int)BitConverter.ToUInt64(image, 0x28);
        // Point the version section past the end of the file.
        BitConverter.GetBytes((ulong)image.Length + 100).CopyTo(image, shoff + 128 + 0x18);
        var error = Record.Exception(() => LibTorchSharpPatcher.MakeVersionNeedWeak(image, "GLIBCXX_3.4.32"));
        Assert.True(error is null || error is InvalidDataException, $"unexpected {error?.GetType()}");
    }

    [Fact]
    public void PatchFile_OnTheShippedLibTorchSharp_MakesTheUnusedNeedWeakOnce()
    {
        string? shipped = FindPackagedLibTorchSharp();
        if (shipped is null)
        {
            Assert.False(OperatingSystem.IsLinux(), "libLibTorchSharp.so must be in the NuGet cache on Linux.");
            return;
        }

        string copy = Path.Combine(Path.GetTempPath(), $"magdi-elf-{Guid.NewGuid():N}.so");
        File.Copy(shipped, copy);
        try
        {
            Assert.Equal(ElfPatchOutcome.Patched, LibTorchSharpPatcher.PatchFile(copy, LibTorchSharpPatcher.UnusedGlibcxxVersion));
            byte[] once = File.ReadAllBytes(copy);
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, LibTorchSharpPatcher.PatchFile(copy, LibTorchSharpPatcher.UnusedGlibcxxVersion));
            Assert.Equal(once, File.ReadAllBytes(copy));
            Assert.Equal(new FileInfo(shipped).Length, once.Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void PatchFile_OnAHardLinkedCopy_LeavesTheOtherLinkUntouched()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // The repository's builds hard-link output files to the NuGet cache only where links exist (Linux here).
        }

        // The build output's libLibTorchSharp.so may be a hard link into the NuGet cache; patching it must not edit the cache.
        string dir = Path.Combine(Path.GetTempPath(), $"magdi-elf-link-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string cache = Path.Combine(dir, "cache.so");
            string output = Path.Combine(dir, "output.so");
            byte[] original = BuildElfFixture(("GLIBCXX_3.4.29", 0), (LibTorchSharpPatcher.UnusedGlibcxxVersion, 0));
            File.WriteAllBytes(cache, original);
            Assert.Equal(0, Link(cache, output));

            Assert.Equal(ElfPatchOutcome.Patched, LibTorchSharpPatcher.PatchFile(output, LibTorchSharpPatcher.UnusedGlibcxxVersion));

            Assert.Equal(original, File.ReadAllBytes(cache));
            Assert.NotEqual(original, File.ReadAllBytes(output));
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, LibTorchSharpPatcher.MakeVersionNeedWeak(File.ReadAllBytes(output), LibTorchSharpPatcher.UnusedGlibcxxVersion));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int Link(string existing, string newPath)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [existing, newPath]);
        ln.WaitForExit();
        return ln.ExitCode;
    }

    private static string? FindPackagedLibTorchSharp()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : null;
    }

    private static void W16(byte[] b, int o, ushort v) => BitConverter.GetBytes(v).CopyTo(b, o);

    private static void W32(byte[] b, int o, uint v) => BitConverter.GetBytes(v).CopyTo(b, o);

    private static void W64(byte[] b, int o, ulong v) => BitConverter.GetBytes(v).CopyTo(b, o);
}
