using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using MagDi.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// Reads the files of a checkpoint for <c>--resume</c> and checks them before anything is handed to TorchSharp or
/// libtorch: a damaged file is an <see cref="InvalidDataException"/> naming it and saying what is wrong. (A truncated
/// optimizer.bin said only "Unable to read beyond the end of the stream", a garbage trainer_state.json gave a JSON
/// error without a file name, and a corrupt rng_state.bin aborted the process inside libtorch.)
/// </summary>
internal static class CheckpointFiles
{
    /// <summary>The largest trainer_state.json read: 64 MiB (its history grows by one small object per step).</summary>
    private const long MaxStateBytes = 64L * 1024 * 1024;

    /// <summary>Size in bytes of libtorch's CPUGeneratorImplState (mt19937 state plus cached normal samples).</summary>
    private const int CpuGeneratorStateBytes = 5056;

    /// <summary>The mt19937 state length (MERSENNE_STATE_N).</summary>
    private const int MersenneStateLength = 624;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Reads trainer_state.json: a JSON object with non-negative step, epoch and micro_batch.</summary>
    /// <exception cref="InvalidDataException">The file is missing, not a regular file, not valid UTF-8 or JSON, or a field is wrong (named).</exception>
    public static TrainerState ReadTrainerState(string path)
    {
        byte[] bytes = ReadRequired(path, MaxStateBytes);
        if (Tasks.JsonLinesReader.FirstInvalidUtf8Line(bytes) is { } badLine)
        {
            throw new InvalidDataException($"'{path}': line {badLine}: invalid UTF-8; the checkpoint is damaged.");
        }

        TrainerState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(bytes, Json);
        }
        catch (JsonException ex)
        {
            string field = ex.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? $", field '{p[2..]}'" : string.Empty;
            string line = ex.LineNumber is { } l ? string.Create(CultureInfo.InvariantCulture, $" (line {l + 1})") : string.Empty;
            throw new InvalidDataException($"'{path}'{field}{line}: not a valid trainer state; the checkpoint is damaged ({Cut(ex.Message)}).", ex);
        }

        if (state is null)
        {
            throw new InvalidDataException($"'{path}': the trainer state is JSON null; the checkpoint is damaged.");
        }

        foreach (var (field, value) in new[] { ("step", state.Step), ("epoch", state.Epoch), ("micro_batch", state.MicroBatch), ("total_steps", state.TotalSteps) })
        {
            if (value < 0)
            {
                throw new InvalidDataException($"'{path}': field '{field}' is {value}; it must not be negative. The checkpoint is damaged.");
            }
        }

        if (state.History is null || state.History.Any(h => h is null))
        {
            throw new InvalidDataException($"'{path}': field 'history' must be a list of metric objects; the checkpoint is damaged.");
        }

        return state;
    }

    /// <summary>Loads optimizer.bin into <paramref name="optimizer"/>; the whole file must be consumed.</summary>
    /// <exception cref="InvalidDataException">The file is missing, not a regular file, truncated, or does not fit this optimizer.</exception>
    public static void LoadOptimizer(string path, OptimizerHelper optimizer)
    {
        if (InputFile.Problem(path) is { } problem)
        {
            throw new InvalidDataException($"'{path}': {problem}; the checkpoint is incomplete.");
        }

        using FileStream stream = InputFile.OpenRead(path);
        if (stream.Length == 0)
        {
            throw new InvalidDataException($"'{path}': the optimizer state is empty; the checkpoint is damaged.");
        }

        using var reader = new BinaryReader(stream);
        try
        {
            optimizer.load_state_dict(reader);
        }
        catch (Exception ex) when (ex is EndOfStreamException)
        {
            throw new InvalidDataException($"'{path}': the optimizer state ends after {stream.Length} bytes, before all of it was read; the file is truncated.", ex);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or InvalidOperationException or FormatException or OverflowException
                                       or InvalidCastException or IndexOutOfRangeException or KeyNotFoundException or NotSupportedException or ExternalException)
        {
            throw new InvalidDataException($"'{path}': the optimizer state is damaged or was written for other parameters ({ex.Message}).", ex);
        }

        if (stream.Position != stream.Length)
        {
            throw new InvalidDataException($"'{path}': {stream.Length - stream.Position} bytes follow the optimizer state; the file is damaged.");
        }
    }

    /// <summary>
    /// Reads rng_state.bin and checks it as libtorch's CPU generator would, so a damaged file is an error here instead
    /// of a libtorch check that aborts the process: the size of this libtorch's state and, for the known layout
    /// (CPUGeneratorImplState), a seeded mt19937 whose <c>left</c> is 1..624 and <c>next</c> at most 624.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is missing, not a regular file, or not a valid generator state.</exception>
    public static byte[] ReadRngState(string path)
    {
        int expected;
        using (Tensor current = random.get_rng_state())
        {
            expected = checked((int)current.numel());
        }

        byte[] state = ReadRequired(path, 1 << 20);
        if (state.Length != expected)
        {
            throw new InvalidDataException($"'{path}': the random generator state is {state.Length} bytes, not the {expected} this libtorch writes; the checkpoint is damaged.");
        }

        if (expected == CpuGeneratorStateBytes)
        {
            // struct CPUGeneratorImplStateLegacy { uint64 the_initial_seed; int32 left; int32 seeded; uint64 next; uint64 state[624]; ... }
            int left = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8));
            int seeded = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(12));
            uint next = unchecked((uint)BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(16)));
            if (seeded == 0 || left is < 1 or > MersenneStateLength || next > MersenneStateLength)
            {
                throw new InvalidDataException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{path}': not a valid mt19937 generator state (seeded {seeded}, left {left}, next {next}); the checkpoint is damaged."));
            }
        }

        return state;
    }

    private static byte[] ReadRequired(string path, long maxBytes)
    {
        if (InputFile.Problem(path) is { } problem)
        {
            throw new InvalidDataException($"'{path}': {problem}; the checkpoint is incomplete.");
        }

        return InputFile.ReadAllBytes(path, maxBytes);
    }

    private static string Cut(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
