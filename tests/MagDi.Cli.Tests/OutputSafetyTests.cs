using System.Diagnostics;
using System.Text.Json;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.SafeTensors;
using Xunit.Abstractions;

namespace MagDi.Cli.Tests;

/// <summary>
/// Issue 15, "Data loss and half-written outputs": no input or user file is deleted, no output is left half-written by a
/// failure, a full disk or a kill -9, and the next run cleans up only MagDi's own temporary files.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class OutputSafetyTests(CliFixture fixture, ITestOutputHelper log)
{
    [Fact]
    public async Task Tokenize_InputNamedLikeTheOldTemporaryFile_IsKept()
    {
        // Reported: "tokenize --in t.jsonl.tmp --out t.jsonl" deleted its input and wrote an empty output.
        string dir = fixture.NewDirectory("tok-tmp");
        string input = Path.Combine(dir, "t.jsonl.tmp");
        string[] lines = ["{\"text\": \"Tom has 5 pens.\"}", "{\"text\": \"He buys 3 more.\"}"];
        await File.WriteAllLinesAsync(input, lines);

        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", Path.Combine(dir, "t.jsonl"));

        Assert.True(code == 0, err);
        Assert.Contains("Tokenized 2 line(s)", err);
        Assert.Equal(lines, await File.ReadAllLinesAsync(input));
        Assert.Equal(2, (await File.ReadAllLinesAsync(Path.Combine(dir, "t.jsonl"))).Length);
        Assert.Equal(["t.jsonl", "t.jsonl.tmp"], Names(dir));
    }

    [Fact]
    public async Task MagsConvert_InputNamedLikeTheOldTemporaryFile_IsKept()
    {
        // Reported: "mags convert --in d.jsonl.tmp --out d.jsonl" exited 2 and deleted its input.
        string dir = fixture.NewDirectory("convert-tmp");
        string input = Path.Combine(dir, "d.jsonl.tmp");
        File.Copy(fixture.MagsPath, input);
        byte[] before = await File.ReadAllBytesAsync(input);

        var (code, output, err) = await CliFixture.Run("mags", "convert", "--in", input, "--out", Path.Combine(dir, "d.jsonl"));

        Assert.True(code == 0, err);
        Assert.Contains("Converted 6 graph(s)", output);
        Assert.Equal(before, await File.ReadAllBytesAsync(input));
        Assert.Equal(6, (await MagFile.ReadAsync(Path.Combine(dir, "d.jsonl"))).Graphs.Count);
        Assert.Equal(["d.jsonl", "d.jsonl.tmp"], Names(dir));
    }

    public enum PathAlias
    {
        SamePath,
        OtherSpelling,
        SymbolicLink,
        HardLink,
    }

    [Theory]
    [InlineData("tokenize", PathAlias.SamePath)]
    [InlineData("tokenize", PathAlias.OtherSpelling)]
    [InlineData("tokenize", PathAlias.SymbolicLink)]
    [InlineData("tokenize", PathAlias.HardLink)]
    [InlineData("convert", PathAlias.SamePath)]
    [InlineData("convert", PathAlias.SymbolicLink)]
    [InlineData("convert", PathAlias.HardLink)]
    [InlineData("render", PathAlias.SamePath)]
    [InlineData("report", PathAlias.SymbolicLink)]
    [InlineData("discuss", PathAlias.SamePath)]
    [InlineData("eval", PathAlias.SamePath)]
    [InlineData("train", PathAlias.SamePath)]
    public async Task OutputThatIsTheInput_IsRefusedWithExit2_AndTheInputIsUntouched(string verb, PathAlias alias)
    {
        string dir = fixture.NewDirectory("same-" + verb);
        string input = verb switch
        {
            "tokenize" => Path.Combine(dir, "texts.jsonl"),
            "discuss" => Path.Combine(dir, "questions.jsonl"),
            "eval" => Path.Combine(dir, "predictions.jsonl"),
            "train" => Path.Combine(dir, "metrics.jsonl"),
            _ => Path.Combine(dir, "mags.jsonl"),
        };
        if (verb == "tokenize")
        {
            await File.WriteAllTextAsync(input, "{\"text\": \"Tom has 5 pens.\"}\n");
        }
        else if (verb is "discuss" or "eval")
        {
            File.Copy(fixture.BenchmarkPath, input);
        }
        else
        {
            File.Copy(fixture.MagsPath, input);
        }

        byte[] before = await File.ReadAllBytesAsync(input);
        string output = alias switch
        {
            PathAlias.SamePath => input,
            PathAlias.OtherSpelling => Path.Combine(dir, ".", "..", Path.GetFileName(dir), Path.GetFileName(input)),
            PathAlias.SymbolicLink => Path.Combine(dir, "link.jsonl"),
            _ => Path.Combine(dir, "hard.jsonl"),
        };
        if (alias == PathAlias.SymbolicLink)
        {
            File.CreateSymbolicLink(output, input);
        }
        else if (alias == PathAlias.HardLink)
        {
            HardLink(input, output);
        }

        string[] args = verb switch
        {
            "tokenize" => ["tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", output],
            "convert" => ["mags", "convert", "--in", input, "--out", output],
            "render" => ["mags", "render", "--in", input, "--index", "0", "--out", output],
            "report" => ["mags", "report", "--in", input, "--out", output],
            "discuss" => ["discuss", "--task", "gsm8k", "--questions", input, "--out", output, "--simulated"],
            "eval" => ["eval", "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--predictions", input, "--out", dir],
            _ => ["train", "--model", fixture.ModelDirectory, "--mags", input, "--out", dir, "--max-steps", "1"],
        };

        var (code, _, err) = await CliFixture.Run(args);

        Assert.Equal(2, code);
        Assert.Contains("is the same file as", err);
        Assert.Contains("would replace the input", err);
        Assert.Equal(before, await File.ReadAllBytesAsync(input));
    }

    [Fact]
    public async Task Tokenize_OutIsAFolder_FailsWithExit2_WithoutClaimingSuccess()
    {
        string dir = fixture.NewDirectory("tok-dir");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllTextAsync(input, "{\"text\": \"a\"}\n");
        Directory.CreateDirectory(Path.Combine(dir, "out"));

        var (code, _, err) = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", Path.Combine(dir, "out"));

        Assert.Equal(2, code);
        Assert.Contains("is a folder", err);
        Assert.DoesNotContain("Tokenized", err);
    }

    [Fact]
    public async Task MagsConvert_FailingMidway_KeepsThePreviousOutput_AndLeavesNoTemporaryFile()
    {
        string dir = fixture.NewDirectory("convert-fail");
        string output = Path.Combine(dir, "out.jsonl");
        await File.WriteAllTextAsync(output, "previous output\n");
        string input = Path.Combine(dir, "in.jsonl");
        string[] lines = await File.ReadAllLinesAsync(fixture.MagsPath);
        await File.WriteAllLinesAsync(input, [lines[0], lines[1], "{\"id\": \"broken\""]);

        var (code, _, err) = await CliFixture.Run("mags", "convert", "--in", input, "--out", output);

        Assert.Equal(2, code);
        Assert.Contains("in.jsonl", err);
        Assert.Equal("previous output\n", await File.ReadAllTextAsync(output));
        Assert.Equal(["in.jsonl", "out.jsonl"], Names(dir));
    }

    [Fact]
    public async Task MagsConvert_SimulatedFullDisk_Exits2NamingTheReason_AndKeepsThePreviousOutput()
    {
        string dir = fixture.NewDirectory("convert-full");
        string output = Path.Combine(dir, "out.jsonl");
        await File.WriteAllTextAsync(output, "previous output\n");
        long size = new FileInfo(fixture.MagsPath).Length;
        foreach (long budget in new[] { 0, size / 3, size - 10 })
        {
            (int Code, string Out, string Err) result;
            using (AtomicFile.LimitBytesForTesting(budget))
            {
                result = await CliFixture.Run("mags", "convert", "--in", fixture.MagsPath, "--out", output);
            }

            Assert.Equal(2, result.Code);
            Assert.Contains("No space left on device", result.Err);
            Assert.Equal("previous output\n", await File.ReadAllTextAsync(output));
            Assert.Equal(["out.jsonl"], Names(dir));
        }
    }

    [Fact]
    public async Task Train_SaveEvery_WritesMarkedCheckpoints_AndPruningSparesAUsersFolder()
    {
        string outDir = fixture.NewDirectory("save-every");
        Directory.CreateDirectory(Path.Combine(outDir, "checkpoint-0-mine"));
        await File.WriteAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md"), "my notes");

        var (code, _, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir,
            "--max-steps", "4", "--save-every", "1", "--batch-size", "2", "--dtype", "f32", "--json");

        Assert.True(code == 0, err);
        Assert.Equal("my notes", await File.ReadAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md")));
        Assert.Equal(["checkpoint-0-mine", "checkpoint-000003", "checkpoint-000004"], Directory.GetDirectories(outDir, "checkpoint-*").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoint-000003", ".magdi-checkpoint")));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    public async Task Train_SaveEveryBelowOne_IsBadInput(string value)
    {
        var (code, _, err) = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", fixture.NewDirectory("save-bad"), "--save-every", value);

        Assert.Equal(2, code);
        Assert.Contains("--save-every must be at least 1", err);
    }

    [TmpfsFact]
    public async Task Train_OnARealFullDisk_Exits2_LeavesCompleteOutputs_AndTheNextRunFinishes()
    {
        // A real small file system (tmpfs), filled to several levels before resuming runs that need more room: below
        // half a run's bytes even one checkpoint does not fit.
        string mount = fixture.NewDirectory("tmpfs");
        Tmpfs.Mount(mount, "32m");
        try
        {
            string outDir = Path.Combine(mount, "run");
            string[] train = ["train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir, "--save-every", "1",
                "--batch-size", "2", "--dtype", "f32", "--json", "--resume"];
            var first = await CliFixture.Run([.. train, "--max-steps", "2"]);
            Assert.True(first.Code == 0, first.Err);
            Directory.CreateDirectory(Path.Combine(outDir, "checkpoint-0-mine"));
            await File.WriteAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md"), "my notes");
            long perRun = Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

            string filler = Path.Combine(mount, "filler");
            int steps = 2;
            int full = 0;
            foreach (double fraction in new[] { 0.05, 0.4 })
            {
                Tmpfs.FillLeaving(filler, (long)(fraction * perRun));
                steps++;
                var run = await CliFixture.Run([.. train, "--max-steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                log.WriteLine($"free {fraction:P0} of a run's {perRun} bytes: exit {run.Code} {run.Err.Trim()}");
                if (run.Code != 0)
                {
                    Assert.Equal(2, run.Code);
                    Assert.Contains("No space left on device", run.Err);
                    full++;
                }

                CheckOutputs(outDir, allowLeftovers: false);
            }

            Assert.Equal(2, full);
            File.Delete(filler);
            var last = await CliFixture.Run([.. train, "--max-steps", (steps + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.True(last.Code == 0, last.Err);
            CheckOutputs(outDir, allowLeftovers: false);
            Assert.Equal(Enumerable.Range(1, steps + 1), MetricSteps(outDir));
            Assert.Equal("my notes", await File.ReadAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md")));
        }
        finally
        {
            Tmpfs.Unmount(mount);
        }
    }

    [Fact]
    public async Task Train_KilledAtRandomMoments_LeavesOldOrNewOutputs_AndTheNextRunCleansUp()
    {
        // The built magdi CLI as a child process, killed (SIGKILL) at random moments of its training and writing; after
        // every kill each output is complete or absent, and the run that finishes leaves no temporary file behind.
        int seed = Environment.TickCount;
        var random = new Random(seed);
        log.WriteLine($"seed {seed}");
        string outDir = fixture.NewDirectory("kill");
        Directory.CreateDirectory(Path.Combine(outDir, "checkpoint-0-mine"));
        await File.WriteAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md"), "my notes");
        string[] Args(int steps) => ["train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir,
            "--max-steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save-every", "1", "--batch-size", "1",
            "--dtype", "f32", "--warmup-steps", "0", "--json", "--resume"];

        // A first run to the end measures how long training and writing take after start-up; every later run resumes
        // with two more steps to go and is killed at a random moment of about that span.
        int steps = 3;
        TimeSpan span = await RunMeasuringAsync(Args(steps), outDir);
        log.WriteLine($"{steps} steps: training and writing take {span.TotalMilliseconds:F0} ms after start-up");
        CheckOutputs(outDir, allowLeftovers: false);

        int leftoversSeen = 0;
        var stopwatch = Stopwatch.StartNew();
        for (int kill = 0; kill < 5 && stopwatch.Elapsed < TimeSpan.FromSeconds(30); kill++)
        {
            steps += 2;
            TimeSpan delay = span * random.NextDouble();
            bool finished = await RunAndKillAsync(Args(steps), outDir, delay);
            int leftovers = CheckOutputs(outDir, allowLeftovers: true);
            leftoversSeen += leftovers;
            log.WriteLine($"kill {kill}: {delay.TotalMilliseconds:F0} ms into the run, {(finished ? "finished first" : "killed")}, " +
                $"{leftovers} temporary entries, metrics up to step {MetricSteps(outDir).LastOrDefault()}");
        }

        var (code, err) = await RunToEndAsync(Args(steps));
        Assert.True(code == 0, err);
        Assert.Equal(0, CheckOutputs(outDir, allowLeftovers: false));
        Assert.Equal(Enumerable.Range(1, steps), MetricSteps(outDir));
        Assert.True(Directory.Exists(Path.Combine(outDir, "adapter")));
        Assert.Equal("my notes", await File.ReadAllTextAsync(Path.Combine(outDir, "checkpoint-0-mine", "notes.md")));
        log.WriteLine($"{leftoversSeen} temporary entries left by kills were cleaned up");
    }

    /// <summary>
    /// The outputs of a train run are each complete or absent: the adapter, every marked checkpoint, metrics.jsonl
    /// (whole lines, steps 1, 2, ... without repeats), loss-curve.png; a user's folder is never touched. Returns the
    /// number of MagDi temporary entries (which only a kill may leave).
    /// </summary>
    private static int CheckOutputs(string outDir, bool allowLeftovers)
    {
        string[] temps = Directory.EnumerateFileSystemEntries(outDir, "*", SearchOption.AllDirectories)
            .Where(p => AtomicFile.IsLeftoverName(Path.GetFileName(p))).ToArray();
        Assert.True(allowLeftovers || temps.Length == 0, "left behind: " + string.Join(", ", temps));

        string adapter = Path.Combine(outDir, "adapter");
        if (Directory.Exists(adapter))
        {
            Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], Names(adapter));
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")));
            Assert.Equal(16, config.RootElement.GetProperty("r").GetInt32());
            using SafeTensorsFile weights = SafeTensorsFile.Open(Path.Combine(adapter, "adapter_model.safetensors"));
            Assert.Equal(8, weights.Tensors.Count);
        }

        foreach (string checkpoint in Directory.GetDirectories(outDir, "checkpoint-*"))
        {
            if (Path.GetFileName(checkpoint) == "checkpoint-0-mine")
            {
                Assert.Equal(["notes.md"], Names(checkpoint));
                continue;
            }

            Assert.Equal([".magdi-checkpoint", "optimizer.bin", "rng_state.bin", "trainable.safetensors", "trainer_state.json"], Names(checkpoint));
            using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json")));
            Assert.EndsWith(state.RootElement.GetProperty("step").GetInt32().ToString("D6", System.Globalization.CultureInfo.InvariantCulture), checkpoint, StringComparison.Ordinal);
            using SafeTensorsFile trainable = SafeTensorsFile.Open(Path.Combine(checkpoint, "trainable.safetensors"));
            Assert.NotEmpty(trainable.Tensors);
        }

        string metrics = Path.Combine(outDir, "metrics.jsonl");
        if (File.Exists(metrics))
        {
            string text = File.ReadAllText(metrics);
            Assert.True(text.Length == 0 || text.EndsWith('\n'), "metrics.jsonl ends in a partial line: " + text[^Math.Min(80, text.Length)..]);
            int[] steps = MetricSteps(outDir);
            Assert.Equal(Enumerable.Range(1, steps.Length), steps);
        }

        string png = Path.Combine(outDir, "loss-curve.png");
        if (File.Exists(png))
        {
            byte[] bytes = File.ReadAllBytes(png);
            Assert.Equal((byte)'P', bytes[1]);
            Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(bytes, bytes.Length - 8, 4));
        }

        return temps.Length;
    }

    private static int[] MetricSteps(string outDir) =>
        File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return (int)doc.RootElement.GetProperty("step").GetDouble();
        }).ToArray();

    private static string[] Names(string dir) =>
        Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static void HardLink(string existing, string link)
    {
        using var ln = Process.Start(new ProcessStartInfo("ln", [existing, link]) { UseShellExecute = false })!;
        ln.WaitForExit();
        Assert.Equal(0, ln.ExitCode);
    }

    private static ProcessStartInfo Magdi(string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "magdi.dll");
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var info = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }

    /// <summary>Runs to the end and returns the time from the first write of metrics.jsonl (training starts) to the exit.</summary>
    private static async Task<TimeSpan> RunMeasuringAsync(string[] args, string outDir)
    {
        string metrics = Path.Combine(outDir, "metrics.jsonl");
        using var process = Process.Start(Magdi(args))!;
        Task<string> err = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        while (!File.Exists(metrics) && !process.HasExited)
        {
            await Task.Delay(2);
        }

        var training = Stopwatch.StartNew();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, await err);
        return training.Elapsed;
    }

    /// <summary>Starts a run and kills it (SIGKILL) <paramref name="delay"/> after it rewrote metrics.jsonl; true when it finished first.</summary>
    private static async Task<bool> RunAndKillAsync(string[] args, string outDir, TimeSpan delay)
    {
        string metrics = Path.Combine(outDir, "metrics.jsonl");
        DateTime before = File.Exists(metrics) ? File.GetLastWriteTimeUtc(metrics) : DateTime.MinValue;
        using var process = Process.Start(Magdi(args))!;
        _ = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var startUp = Stopwatch.StartNew();
        // The run starts by rewriting metrics.jsonl from its checkpoint; time the kill from there.
        while (!process.HasExited && (!File.Exists(metrics) || File.GetLastWriteTimeUtc(metrics) == before) && startUp.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(1);
        }

        await Task.Delay(delay);
        bool finished = process.HasExited;
        if (!finished)
        {
            process.Kill(); // SIGKILL on Unix
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return finished;
    }

    private static async Task<(int Code, string Err)> RunToEndAsync(string[] args)
    {
        using var process = Process.Start(Magdi(args))!;
        Task<string> err = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await err);
    }
}

/// <summary>A fact that needs a real small file system: it mounts a tmpfs, so it runs where the tests may mount (root in CI).</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (!Tmpfs.Available)
        {
            Skip = "mounting a tmpfs is not permitted here (needs Linux and root or CAP_SYS_ADMIN); the simulated full-disk tests still run";
        }
    }
}

/// <summary>Mounts small tmpfs file systems for the full-disk tests.</summary>
internal static class Tmpfs
{
    private static readonly Lazy<bool> s_available = new(Probe);

    public static bool Available => s_available.Value;

    public static void Mount(string directory, string size)
    {
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", directory);
        Assert.True(code == 0, output);
    }

    public static void Unmount(string directory)
    {
        if (Run("umount", directory).Code != 0)
        {
            Run("umount", "-l", directory);
        }
    }

    /// <summary>Grows (or shrinks) <paramref name="filler"/> until the file system has about <paramref name="free"/> bytes left.</summary>
    public static void FillLeaving(string filler, long free)
    {
        using var stream = new FileStream(filler, FileMode.OpenOrCreate, FileAccess.Write);
        stream.Seek(0, SeekOrigin.End);
        byte[] chunk = new byte[4096];
        try
        {
            while (true)
            {
                stream.Write(chunk);
                stream.Flush();
            }
        }
        catch (IOException)
        {
            // Full.
        }

        stream.SetLength(Math.Max(0, (stream.Length - free) / 4096 * 4096));
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        string dir = Path.Combine(Path.GetTempPath(), "magdi-tmpfs-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            if (Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).Code != 0)
            {
                return false;
            }

            Unmount(dir);
            return true;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no mount binary
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
