using System.Text;
using MagDi.IO;
using MagDi.SafeTensors;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "magdi-atomic-" + Guid.NewGuid().ToString("N"));

    public AtomicFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Every entry of the folder (recursively), relative, sorted: what a user would see.</summary>
    private string[] Listing() => Directory.EnumerateFileSystemEntries(_dir, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(_dir, p)).Order(StringComparer.Ordinal).ToArray();

    private static string Id() => Guid.NewGuid().ToString("N");

    [Fact]
    public void Write_ReplacesTheTarget_AndLeavesNoTemporaryFile()
    {
        File.WriteAllText(PathOf("out.jsonl"), "old\n");

        AtomicFile.Write(PathOf("out.jsonl"), s => s.Write("new\n"u8));

        Assert.Equal("new\n", File.ReadAllText(PathOf("out.jsonl")));
        Assert.Equal(["out.jsonl"], Listing());
    }

    [Fact]
    public void Write_CreatesMissingFolders()
    {
        AtomicFile.WriteAllText(PathOf("a/b/c.txt"), "x");

        Assert.Equal("x", File.ReadAllText(PathOf("a/b/c.txt")));
    }

    [Fact]
    public void Write_WriterThrows_KeepsTheOldFile_AndDeletesOnlyItsOwnTemporaryFile()
    {
        // The reported bug: the temporary name of the output was "<out>.tmp", so an input of that name was destroyed.
        File.WriteAllText(PathOf("t.jsonl"), "old\n");
        File.WriteAllText(PathOf("t.jsonl.tmp"), "the user's input\n");

        var error = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(PathOf("t.jsonl"), s =>
        {
            s.Write("half"u8);
            throw new InvalidOperationException("boom");
        }));

        Assert.Equal("boom", error.Message);
        Assert.Equal("old\n", File.ReadAllText(PathOf("t.jsonl")));
        Assert.Equal("the user's input\n", File.ReadAllText(PathOf("t.jsonl.tmp")));
        Assert.Equal(["t.jsonl", "t.jsonl.tmp"], Listing());
    }

    [Fact]
    public void Write_FullDiskAtEveryByte_LeavesTheOldFileOrTheNewOne()
    {
        string target = PathOf("metrics.json");
        string before = "{\"old\": true}";
        string after = "{\"new\": \"" + new string('x', 300) + "\"}";
        int failures = 0;
        for (int budget = 0; budget <= Encoding.UTF8.GetByteCount(after) + 1; budget++)
        {
            File.WriteAllText(target, before);
            using (AtomicFile.LimitBytesForTesting(budget))
            {
                try
                {
                    AtomicFile.WriteAllText(target, after);
                }
                catch (IOException e)
                {
                    Assert.Contains("No space left on device", e.Message);
                    failures++;
                }
            }

            string now = File.ReadAllText(target);
            Assert.True(now == before || now == after, $"budget {budget}: half-written file '{now}'");
            Assert.Equal(["metrics.json"], Listing());
        }

        Assert.Equal(Encoding.UTF8.GetByteCount(after), failures); // every budget short of the whole file failed
    }

    [Fact]
    public void Write_TargetIsAFolder_FailsNamingIt_AndKeepsTheFolder()
    {
        Directory.CreateDirectory(PathOf("ids.jsonl"));
        File.WriteAllText(PathOf("ids.jsonl/keep.txt"), "mine");

        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(PathOf("ids.jsonl"), "x"));

        Assert.Contains("ids.jsonl", e.Message);
        Assert.Contains("is a folder", e.Message);
        Assert.Equal(["ids.jsonl", Path.Combine("ids.jsonl", "keep.txt")], Listing());
    }

    [Fact]
    public void Write_ThroughASymbolicLink_ReplacesWhatTheLinkPointsTo()
    {
        Directory.CreateDirectory(PathOf("data"));
        File.WriteAllText(PathOf("data/real.txt"), "old");
        File.CreateSymbolicLink(PathOf("link.txt"), Path.Combine("data", "real.txt"));

        AtomicFile.WriteAllText(PathOf("link.txt"), "new");

        Assert.NotNull(new FileInfo(PathOf("link.txt")).LinkTarget);
        Assert.Equal("new", File.ReadAllText(PathOf("data/real.txt")));
        Assert.Equal(["data", Path.Combine("data", "real.txt"), "link.txt"], Listing());
    }

    [Fact]
    public async Task WriteAsync_Cancelled_KeepsTheOldFile()
    {
        File.WriteAllText(PathOf("p.jsonl"), "old");
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AtomicFile.WriteAsync(PathOf("p.jsonl"), async (s, ct) =>
        {
            await s.WriteAsync("partial"u8.ToArray(), ct);
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }, cts.Token));

        Assert.Equal("old", File.ReadAllText(PathOf("p.jsonl")));
        Assert.Equal(["p.jsonl"], Listing());
    }

    [Fact]
    public async Task WriteAllTextAsync_WritesUtf8WithoutByteOrderMark()
    {
        await AtomicFile.WriteAllTextAsync(PathOf("r.json"), "é");

        Assert.Equal([0xC3, 0xA9], File.ReadAllBytes(PathOf("r.json")));
    }

    [Fact]
    public void WriteDirectory_NewFolder_AppearsWithEveryFile()
    {
        AtomicFile.WriteDirectory(PathOf("adapter"), temp =>
        {
            Assert.StartsWith(".adapter.", Path.GetFileName(temp));
            Assert.False(Directory.Exists(PathOf("adapter")));
            File.WriteAllText(Path.Combine(temp, "adapter_model.safetensors"), "weights");
            File.WriteAllText(Path.Combine(temp, "adapter_config.json"), "{}");
        });

        Assert.Equal(["adapter", Path.Combine("adapter", "adapter_config.json"), Path.Combine("adapter", "adapter_model.safetensors")], Listing());
    }

    [Fact]
    public void WriteDirectory_FolderItOwns_IsReplacedWhole()
    {
        Directory.CreateDirectory(PathOf("adapter"));
        File.WriteAllText(PathOf("adapter/adapter_config.json"), "old config"); // the half adapter the issue reports

        AtomicFile.WriteDirectory(PathOf("adapter"), temp =>
        {
            File.WriteAllText(Path.Combine(temp, "adapter_model.safetensors"), "new weights");
            File.WriteAllText(Path.Combine(temp, "adapter_config.json"), "new config");
        });

        Assert.Equal("new config", File.ReadAllText(PathOf("adapter/adapter_config.json")));
        Assert.Equal("new weights", File.ReadAllText(PathOf("adapter/adapter_model.safetensors")));
        Assert.Equal(["adapter", Path.Combine("adapter", "adapter_config.json"), Path.Combine("adapter", "adapter_model.safetensors")], Listing());
    }

    [Fact]
    public void WriteDirectory_KeepsFilesItDidNotWrite()
    {
        Directory.CreateDirectory(PathOf("student"));
        File.WriteAllText(PathOf("student/tokenizer.json"), "the user's tokenizer");
        File.WriteAllText(PathOf("student/config.json"), "old");

        AtomicFile.WriteDirectory(PathOf("student"), temp =>
        {
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "weights");
            File.WriteAllText(Path.Combine(temp, "config.json"), "new");
        });

        Assert.Equal("the user's tokenizer", File.ReadAllText(PathOf("student/tokenizer.json")));
        Assert.Equal("new", File.ReadAllText(PathOf("student/config.json")));
        Assert.Equal("weights", File.ReadAllText(PathOf("student/model.safetensors")));
        Assert.Equal(4, Listing().Length);
    }

    [Fact]
    public void WriteDirectory_WriterFails_LeavesTheOldFolder_AndNoTemporaryFolder()
    {
        Directory.CreateDirectory(PathOf("adapter"));
        File.WriteAllText(PathOf("adapter/adapter_config.json"), "old");

        Assert.Throws<IOException>(() => AtomicFile.WriteDirectory(PathOf("adapter"), temp =>
        {
            File.WriteAllText(Path.Combine(temp, "adapter_config.json"), "new");
            throw new IOException("No space left on device");
        }));

        Assert.Equal(["adapter", Path.Combine("adapter", "adapter_config.json")], Listing());
        Assert.Equal("old", File.ReadAllText(PathOf("adapter/adapter_config.json")));
    }

    [Fact]
    public async Task WriteDirectoryAsync_WriterThatYields_PutsTheFolderInPlaceWhenItFinishes()
    {
        await AtomicFile.WriteDirectoryAsync(PathOf("base"), async (temp, ct) =>
        {
            await File.WriteAllTextAsync(Path.Combine(temp, "model.safetensors"), "weights", ct);
            await Task.Yield();
            Assert.False(Directory.Exists(PathOf("base")));
            await File.WriteAllTextAsync(Path.Combine(temp, "recipe.json"), "{}", ct);
        });

        Assert.Equal(["base", Path.Combine("base", "model.safetensors"), Path.Combine("base", "recipe.json")], Listing());
    }

    [Fact]
    public async Task WriteDirectoryAsync_Cancelled_LeavesTheOldFolder_AndNoTemporaryFolder()
    {
        Directory.CreateDirectory(PathOf("base"));
        File.WriteAllText(PathOf("base/config.json"), "old");
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AtomicFile.WriteDirectoryAsync(PathOf("base"), async (temp, ct) =>
        {
            await File.WriteAllTextAsync(Path.Combine(temp, "config.json"), "new", ct);
            await cts.CancelAsync();
            await Task.Delay(Timeout.Infinite, ct);
        }, cts.Token));

        Assert.Equal(["base", Path.Combine("base", "config.json")], Listing());
        Assert.Equal("old", File.ReadAllText(PathOf("base/config.json")));
    }

    [Fact]
    public void WriteDirectory_TargetIsAFile_FailsNamingIt()
    {
        File.WriteAllText(PathOf("adapter"), "a file");

        var e = Assert.Throws<IOException>(() => AtomicFile.WriteDirectory(PathOf("adapter"), _ => { }));

        Assert.Contains("is a file", e.Message);
        Assert.Equal(["adapter"], Listing());
    }

    [Fact]
    public void SafeTensorsSave_FullDiskAtEveryPoint_LeavesTheOldFileOrTheNewOne()
    {
        string path = PathOf("w.safetensors");
        using Tensor old = ones(4, 4);
        using Tensor fresh = arange(0, 64, dtype: ScalarType.Float32).reshape(8, 8);
        SafeTensorsFile.Save(PathOf("probe.safetensors"), [new("w", fresh)]);
        long full = new FileInfo(PathOf("probe.safetensors")).Length;
        File.Delete(PathOf("probe.safetensors"));
        SafeTensorsFile.Save(path, [new("w", old)]);
        for (long budget = 0; budget < full; budget += 37)
        {
            using (AtomicFile.LimitBytesForTesting(budget))
            {
                Assert.Throws<IOException>(() => SafeTensorsFile.Save(path, [new("w", fresh)]));
            }

            using SafeTensorsFile file = SafeTensorsFile.Open(path);
            Assert.Equal([4L, 4L], file.Tensors["w"].Shape);
            Assert.Equal(["w.safetensors"], Listing());
        }

        SafeTensorsFile.Save(path, [new("w", fresh)]);
        using SafeTensorsFile saved = SafeTensorsFile.Open(path);
        Assert.Equal([8L, 8L], saved.Tensors["w"].Shape);
    }

    [Fact]
    public void WriteDirectory_FullDiskAtEveryPoint_LeavesTheOldPairOrTheNewPair()
    {
        string dir = PathOf("adapter");
        void WritePair(string root, string version)
        {
            AtomicFile.WriteAllText(Path.Combine(root, "adapter_model.safetensors"), version + new string('w', 100));
            AtomicFile.WriteAllText(Path.Combine(root, "adapter_config.json"), version + new string('c', 20));
        }

        AtomicFile.WriteDirectory(dir, temp => WritePair(temp, "old"));
        for (int budget = 0; budget <= 130; budget += 3)
        {
            using (AtomicFile.LimitBytesForTesting(budget))
            {
                try
                {
                    AtomicFile.WriteDirectory(dir, temp => WritePair(temp, "new"));
                }
                catch (IOException)
                {
                }
            }

            string weights = File.ReadAllText(Path.Combine(dir, "adapter_model.safetensors"));
            string config = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
            Assert.Equal(weights[..3], config[..3]);
            Assert.Equal(budget >= 126 ? "new" : "old", weights[..3]);
            Assert.Equal(3, Listing().Length);
            if (budget >= 126)
            {
                AtomicFile.WriteDirectory(dir, temp => WritePair(temp, "old"));
            }
        }
    }

    [Fact]
    public void AppendLine_FullDisk_CutsThePartialLineBack()
    {
        string log = PathOf("metrics.jsonl");
        AtomicFile.AppendLine(log, "{\"step\":1}");

        using (AtomicFile.LimitBytesForTesting(5))
        {
            Assert.Throws<IOException>(() => AtomicFile.AppendLine(log, "{\"step\":2}"));
        }

        AtomicFile.AppendLine(log, "{\"step\":2}");
        Assert.Equal(["{\"step\":1}", "{\"step\":2}"], File.ReadAllLines(log));
    }

    [Fact]
    public void DeleteDirectory_RemovesTheFolder_AndNothingElse()
    {
        Directory.CreateDirectory(PathOf("checkpoint-000001/sub"));
        File.WriteAllText(PathOf("checkpoint-000001/sub/a"), "x");
        Directory.CreateDirectory(PathOf("checkpoint-000002"));

        AtomicFile.DeleteDirectory(PathOf("checkpoint-000001"));
        AtomicFile.DeleteDirectory(PathOf("missing"));

        Assert.Equal(["checkpoint-000002"], Listing());
    }

    [Fact]
    public void DeleteLeftovers_RemovesOnlyMagDiTemporaryNames()
    {
        string id = Id();
        File.WriteAllText(PathOf($".out.jsonl.{id}.magdi-tmp"), "half");
        Directory.CreateDirectory(PathOf($".adapter.{id}.magdi-tmp"));
        File.WriteAllText(PathOf($".adapter.{id}.magdi-tmp/adapter_config.json"), "half");
        Directory.CreateDirectory(PathOf($".tmp-checkpoint-12-{Id()}")); // written by MagDi before this change
        string[] users =
        [
            "out.jsonl.tmp", "t.jsonl.tmp", ".out.jsonl.magdi-tmp", $".out.jsonl.{id}.magdi-tmp.bak", $".x.{id[..31]}.magdi-tmp",
            $".x.{id.ToUpperInvariant()}.magdi-tmp", ".tmp-checkpoint-mine", "notes.txt", ".hidden", $"out.{id}.magdi-tmp",
        ];
        foreach (string name in users)
        {
            File.WriteAllText(PathOf(name), "the user's");
        }

        Directory.CreateDirectory(PathOf("checkpoint-0-mine"));

        int removed = AtomicFile.DeleteLeftovers(_dir);

        Assert.Equal(3, removed);
        Assert.Equal(users.Append("checkpoint-0-mine").Order(StringComparer.Ordinal), Listing());
    }

    [Fact]
    public void DeleteLeftovers_WithAName_RemovesOnlyThatTargetsLeftovers()
    {
        File.WriteAllText(PathOf($".a.jsonl.{Id()}.magdi-tmp"), "half");
        string other = $".b.jsonl.{Id()}.magdi-tmp";
        File.WriteAllText(PathOf(other), "half");

        Assert.Equal(1, AtomicFile.DeleteLeftovers(_dir, "a.jsonl"));

        Assert.Equal([other], Listing());
    }

    [Fact]
    public void DeleteLeftovers_RestoresAFolderSetAside_WhenItsReplacementNeverArrived()
    {
        // A kill between the two renames of the fallback swap: the old adapter is set aside, the new one not yet in place.
        string setAside = PathOf($".adapter.{Id()}.magdi-old");
        Directory.CreateDirectory(setAside);
        File.WriteAllText(Path.Combine(setAside, "adapter_config.json"), "old");
        // Set aside, and the replacement did arrive: the old copy goes.
        Directory.CreateDirectory(PathOf("model"));
        Directory.CreateDirectory(PathOf($".model.{Id()}.magdi-old"));

        Assert.Equal(2, AtomicFile.DeleteLeftovers(_dir));

        Assert.Equal(["adapter", Path.Combine("adapter", "adapter_config.json"), "model"], Listing());
    }

    [Fact]
    public void LinuxExchange_SwapsTwoFoldersInOneStep_ElsewhereDeclines()
    {
        Directory.CreateDirectory(PathOf("a"));
        File.WriteAllText(PathOf("a/x"), "a");
        Directory.CreateDirectory(PathOf("b"));
        File.WriteAllText(PathOf("b/x"), "b");

        bool swapped = LinuxFileSystem.TryExchange(PathOf("a"), PathOf("b"));

        // On Linux (the CI machines) the swap is the atomic path; other systems fall back to two renames.
        Assert.Equal(OperatingSystem.IsLinux(), swapped);
        Assert.Equal(swapped ? "b" : "a", File.ReadAllText(PathOf("a/x")));
        Assert.Equal(swapped ? "a" : "b", File.ReadAllText(PathOf("b/x")));
    }
}

/// <summary>Changes the process's working directory, so it runs alone (no other test may resolve a relative path meanwhile).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkingDirectoryGroup
{
    public const string Name = "working directory";
}

[Collection(WorkingDirectoryGroup.Name)]
public sealed class AtomicFileWorkingDirectoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "magdi-atomic-cwd-" + Guid.NewGuid().ToString("N"));

    public AtomicFileWorkingDirectoryTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private string[] Listing() => Directory.EnumerateFileSystemEntries(_dir, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(_dir, p)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void WriteDirectory_TheWorkingDirectory_IsWrittenFileByFile_SoTheProcessKeepsIt()
    {
        Directory.CreateDirectory(PathOf("here"));
        File.WriteAllText(PathOf("here/config.json"), "old");
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = PathOf("here");
        try
        {
            AtomicFile.WriteDirectory(".", temp => File.WriteAllText(Path.Combine(temp, "config.json"), "new"));

            Assert.Equal("new", File.ReadAllText("config.json"));
            Assert.Equal(["here", Path.Combine("here", "config.json")], Listing());
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }
}
