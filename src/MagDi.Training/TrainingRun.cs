using System.Diagnostics;
using MagDi.Graphs;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// Everything one call of <see cref="MagDiTrainer.TrainAsync"/> works with: the prepared data, the trainable weights and
/// their optimizer, the loop position (<see cref="State"/>) and the run's counters. It owns the optimizer state and the
/// frozen node features and disposes them when the run ends; the weights belong to the student and the objective.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private int _batchesEpoch = -1;
    private List<List<PreparedGraph>> _epochBatches = [];

    public required string OutputDirectory { get; init; }

    /// <summary><c>metrics.jsonl</c> in <see cref="OutputDirectory"/>: one line per optimizer step.</summary>
    public string MetricsPath => Path.Combine(OutputDirectory, "metrics.jsonl");

    public required List<PreparedGraph> Graphs { get; init; }

    public required List<PreparedGraph> Validation { get; init; }

    public required TrainingDataSummary Summary { get; init; }

    /// <summary>The student's trainable weights, then the objective heads', named as in a checkpoint.</summary>
    public required List<(string Name, Parameter Parameter)> Trainable { get; init; }

    public required AdamW Optimizer { get; init; }

    /// <summary>Node features of the base student per MAG when <see cref="Losses.NodeFeatureSource.Frozen"/>; null otherwise.</summary>
    public Dictionary<InteractionGraph, Tensor>? FrozenFeatures { get; init; }

    public required int TotalSteps { get; init; }

    /// <summary>Step, epoch and micro-batch reached, and the metrics of every step so far (restored on resume).</summary>
    public required TrainerState State { get; set; }

    public string? LastCheckpoint { get; set; }

    public double? ValidationLoss { get; set; }

    public Dictionary<string, double> LastMetrics { get; set; } = [];

    public bool Cancelled { get; set; }

    /// <summary>Wall time of this call (not of the steps before a resume).</summary>
    public Stopwatch Clock { get; } = new();

    public int StepsThisRun { get; private set; }

    public long TokensThisRun { get; private set; }

    public double TokensPerSecond => TokensThisRun / Math.Max(1e-9, Clock.Elapsed.TotalSeconds);

    /// <summary>
    /// The micro-batches of the current epoch. The order is a pure function of (seed, epoch), computed once per epoch, also
    /// after a resume.
    /// </summary>
    public List<List<PreparedGraph>> EpochBatches(Func<int, List<List<PreparedGraph>>> batchesForEpoch)
    {
        if (_batchesEpoch != State.Epoch)
        {
            _epochBatches = batchesForEpoch(State.Epoch);
            _batchesEpoch = State.Epoch;
        }

        return _epochBatches;
    }

    /// <summary>Counts a finished optimizer step.</summary>
    public void CompleteStep(long tokens)
    {
        State.Step++;
        StepsThisRun++;
        TokensThisRun += tokens;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        if (FrozenFeatures is not null)
        {
            foreach (Tensor features in FrozenFeatures.Values)
            {
                features.Dispose();
            }
        }
    }
}
