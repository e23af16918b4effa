namespace MagDi.Training.Tests;

/// <summary>
/// Issue 15: damaged checkpoint files on <c>--resume</c>. A truncated optimizer.bin, a garbage trainer_state.json and a
/// corrupt rng_state.bin (which aborted the process inside libtorch, exit 134) are each an
/// <see cref="InvalidDataException"/> naming the file and what is wrong, raised before TorchSharp or libtorch sees them.
/// </summary>
public sealed class HostileCheckpointTests : IDisposable
{
    private readonly string _out = TestStudent.TempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_out, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MagDiTrainerBuilder Builder(int maxSteps) => MagDiTrainer.CreateBuilder()
        .UseStudent(TestStudent.Model(), new CharTokenizer())
        .WithTrainingGraphs(TestStudent.Graphs(4))
        .WithLevel(DistillationLevel.CorrectNodes)
        .WithLora(rank: 2, alpha: 4, dropout: 0, "q_proj")
        .WithSchedule(epochs: 50, warmupSteps: 1, maxSteps: maxSteps)
        .WithBatchSize(2)
        .WithSeed(5)
        .WithOutputDirectory(_out);

    /// <summary>Trains two steps and returns the checkpoint folder it leaves.</summary>
    private async Task<string> Checkpoint()
    {
        TrainingResult result = await Builder(2).BuildAndTrainAsync();
        return result.LastCheckpoint ?? throw new InvalidOperationException("no checkpoint written");
    }

    private Task<TrainingResult> Resume() => Builder(4).ResumeFromLatestCheckpoint().BuildAndTrainAsync();

    [Fact]
    public async Task TruncatedOptimizerState_NamesTheFile()
    {
        string file = Path.Combine(await Checkpoint(), "optimizer.bin");
        byte[] bytes = await File.ReadAllBytesAsync(file);
        await File.WriteAllBytesAsync(file, bytes[..(bytes.Length / 2)]);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.Equal($"'{file}': the optimizer state ends after {bytes.Length / 2} bytes, before all of it was read; the file is truncated.", ex.Message);
    }

    [Fact]
    public async Task OptimizerStateWithTrailingBytes_NamesTheFile()
    {
        string file = Path.Combine(await Checkpoint(), "optimizer.bin");
        await File.AppendAllTextAsync(file, "garbage");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.Equal($"'{file}': 7 bytes follow the optimizer state; the file is damaged.", ex.Message);
    }

    [Fact]
    public async Task MissingOptimizerState_NamesTheFile()
    {
        string file = Path.Combine(await Checkpoint(), "optimizer.bin");
        File.Delete(file);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.Equal($"'{file}': file not found; the checkpoint is incomplete.", ex.Message);
    }

    [Theory]
    [InlineData("{not json", "' (line 1): not a valid trainer state; the checkpoint is damaged")]
    [InlineData("{\"step\": \"three\"}", "', field 'step' (line 1): not a valid trainer state; the checkpoint is damaged")]
    [InlineData("{\"step\": -5, \"epoch\": 0}", "': field 'step' is -5; it must not be negative. The checkpoint is damaged.")]
    [InlineData("null", "': the trainer state is JSON null; the checkpoint is damaged.")]
    public async Task GarbageTrainerState_NamesTheFileAndField(string content, string expected)
    {
        string file = Path.Combine(await Checkpoint(), "trainer_state.json");
        await File.WriteAllTextAsync(file, content);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.StartsWith($"'{file}{expected}", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0xFF)] // left = -1: libtorch's "Invalid mt19937 state" check aborted the process
    [InlineData(0x00)] // not seeded
    public async Task CorruptRngState_IsAnErrorNotAnAbort(byte fill)
    {
        string file = Path.Combine(await Checkpoint(), "rng_state.bin");
        int length = (await File.ReadAllBytesAsync(file)).Length;
        await File.WriteAllBytesAsync(file, Enumerable.Repeat(fill, length).ToArray());

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.StartsWith($"'{file}': not a valid mt19937 generator state (seeded ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RngStateOfTheWrongSize_NamesTheFile()
    {
        string file = Path.Combine(await Checkpoint(), "rng_state.bin");
        int length = (await File.ReadAllBytesAsync(file)).Length;
        await File.WriteAllBytesAsync(file, new byte[100]);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(Resume);

        Assert.Equal($"'{file}': the random generator state is 100 bytes, not the {length} this libtorch writes; the checkpoint is damaged.", ex.Message);
    }

    [Fact]
    public async Task RngStateThatIsAFifo_IsRefusedWithoutBlocking()
    {
        string file = Path.Combine(await Checkpoint(), "rng_state.bin");
        File.Delete(file);
        if (!HostileFiles.TryCreateFifo(file))
        {
            return; // no FIFOs on Windows
        }

        var ex = await HostileFiles.CaptureWithoutBlocking(file, Resume);

        Assert.StartsWith($"'{file}': is not a regular file but a FIFO", Assert.IsType<InvalidDataException>(ex).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UndamagedCheckpoint_StillResumes()
    {
        await Checkpoint();

        TrainingResult resumed = await Resume();

        Assert.Equal(TrainingStatus.Completed, resumed.Status);
        Assert.Equal(4, resumed.Steps);
    }
}
