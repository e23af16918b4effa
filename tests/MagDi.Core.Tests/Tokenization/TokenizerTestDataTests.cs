using System.IO.Compression;

using MagDi.Testing;

namespace MagDi.Core.Tests.Tokenization;

/// <summary>The committed test vocabularies are unpacked only when their SHA-256 matches; damage is reported.</summary>
public sealed class TokenizerTestDataTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "magdi-tokdata-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void EnsureUnpacked_CommittedArchives_GiveLoadableVocabularies()
    {
        string folder = TokenizerTestData.EnsureUnpacked(TestTokenizerFiles.RepoRoot, Path.Combine(_root, "out"));

        var tokenizer = MagDi.Tokenization.TokenizerLoader.Load(Path.Combine(folder, "gpt2"));
        Assert.Equal("Hello world", tokenizer.Decode(tokenizer.Encode("Hello world")));
    }

    [Fact]
    public void EnsureUnpacked_ArchiveWithOtherContent_ThrowsNamingTheArchive()
    {
        string fakeRepo = Path.Combine(_root, "repo");
        string archive = Path.Combine(fakeRepo, "tests", "TestData", "tokenizers", "mistral", "tokenizer.json.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        using (var gz = new GZipStream(File.Create(archive), CompressionLevel.Optimal))
        {
            gz.Write("{\"not\":\"the vocabulary\"}"u8);
        }

        var error = Assert.Throws<InvalidDataException>(() => TokenizerTestData.EnsureUnpacked(fakeRepo, Path.Combine(_root, "out")));

        Assert.Contains(archive, error.Message);
        Assert.Contains("expected fc4f0bd7", error.Message);
        Assert.False(File.Exists(Path.Combine(_root, "out", "mistral", "tokenizer.json")));
    }

    [Fact]
    public void EnsureUnpacked_MissingArchive_ThrowsNamingTheArchive()
    {
        var error = Assert.Throws<InvalidDataException>(() => TokenizerTestData.EnsureUnpacked(Path.Combine(_root, "empty"), Path.Combine(_root, "out")));

        Assert.Contains(Path.Combine("mistral", "tokenizer.json.gz"), error.Message);
        Assert.Contains("missing", error.Message);
    }
}
