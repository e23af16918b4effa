using System.IO.Compression;
using System.Security.Cryptography;

namespace MagDi.Testing;

/// <summary>
/// The real tokenizer vocabularies committed gzip-compressed under tests/TestData/tokenizers (see NOTICE.md there).
/// <see cref="EnsureUnpacked"/> unpacks them once into a folder next to the running assembly and checks each file's
/// SHA-256, so tests and benchmarks need nothing but the .NET SDK.
/// </summary>
public static class TokenizerTestData
{
    /// <summary>Family folder, file name and the SHA-256 of the uncompressed file.</summary>
    private static readonly (string Family, string Name, string Sha256)[] s_files =
    [
        ("mistral", "tokenizer.json", "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"),
        ("mistral", "tokenizer_config.json", "747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b"),
        ("qwen3", "tokenizer.json", "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"),
        ("qwen3", "tokenizer_config.json", "5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63"),
        ("gpt2", "vocab.json", "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
        ("gpt2", "merges.txt", "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    ];

    /// <summary>
    /// Unpacks every vocabulary from <c>&lt;repoRoot&gt;/tests/TestData/tokenizers</c> into
    /// <paramref name="destination"/> (one folder per family) unless an identical copy is already there, and returns
    /// <paramref name="destination"/>. Throws <see cref="InvalidDataException"/> naming the file when an archive is
    /// missing or its content does not have the pinned SHA-256.
    /// </summary>
    public static string EnsureUnpacked(string repoRoot, string destination)
    {
        string source = Path.Combine(repoRoot, "tests", "TestData", "tokenizers");
        foreach (var (family, name, sha256) in s_files)
        {
            string target = Path.Combine(destination, family, name);
            if (File.Exists(target) && HashOf(target) == sha256)
            {
                continue;
            }

            string archive = Path.Combine(source, family, name + ".gz");
            if (!File.Exists(archive))
            {
                throw new InvalidDataException($"{archive}: missing test vocabulary (see tests/TestData/tokenizers/NOTICE.md).");
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            // Unpack under a unique name and rename, so a concurrent reader never sees a half-written file.
            string temporary = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            using (var input = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
            using (var output = File.Create(temporary))
            {
                input.CopyTo(output);
            }

            string actual = HashOf(temporary);
            if (actual != sha256)
            {
                File.Delete(temporary);
                throw new InvalidDataException($"{archive}: unpacks to SHA-256 {actual}, expected {sha256} (file damaged or replaced?).");
            }

            File.Move(temporary, target, overwrite: true);
        }

        return destination;
    }

    private static string HashOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
