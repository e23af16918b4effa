namespace MagDi.Training;

/// <summary>A snapshot of a running distillation, reported after every optimizer step.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="TotalSteps">Optimizer steps planned.</param>
/// <param name="Epoch">Current epoch, from 0.</param>
/// <param name="LearningRate">Learning rate of the step.</param>
/// <param name="Metrics">Slash-named metrics of the step (loss/total, loss/nll, loss/margin, loss/node, margin/accuracy, node/accuracy, ...).</param>
/// <param name="TokensPerSecond">Non-padding tokens processed per second over the run so far.</param>
/// <param name="Elapsed">Time since training started (this process).</param>
/// <param name="EstimatedRemaining">Estimated time to the last step.</param>
public sealed record TrainingProgress(
    int Step,
    int TotalSteps,
    int Epoch,
    double LearningRate,
    IReadOnlyDictionary<string, double> Metrics,
    double TokensPerSecond,
    TimeSpan Elapsed,
    TimeSpan EstimatedRemaining);

/// <summary>How a run ended.</summary>
public enum TrainingStatus
{
    /// <summary>All planned steps ran.</summary>
    Completed,

    /// <summary>Cancelled through the token; a checkpoint holds the progress.</summary>
    Cancelled,
}

/// <summary>What a distillation run produced.</summary>
/// <param name="Status">Completed or cancelled.</param>
/// <param name="Steps">Optimizer steps done in total (including steps before a resume).</param>
/// <param name="OutputDirectory">The run's output folder.</param>
/// <param name="FinalModelDirectory">The trained adapter (PEFT layout) or, for full fine-tuning, the model (Hugging Face layout).</param>
/// <param name="LastCheckpoint">The newest checkpoint folder, or null.</param>
/// <param name="FinalMetrics">Metrics of the last step.</param>
/// <param name="History">Metrics of every step in order.</param>
/// <param name="ValidationLoss">The last validation next-token loss, when validation MAGs were given.</param>
/// <param name="Data">What was selected from the training MAGs.</param>
/// <param name="TokensPerSecond">Non-padding tokens per second of training (this process).</param>
/// <param name="StepTimeMs">Mean wall time of an optimizer step in milliseconds (this process).</param>
/// <param name="Duration">Wall time of training (this process).</param>
public sealed record TrainingResult(
    TrainingStatus Status,
    int Steps,
    string OutputDirectory,
    string FinalModelDirectory,
    string? LastCheckpoint,
    IReadOnlyDictionary<string, double> FinalMetrics,
    IReadOnlyList<IReadOnlyDictionary<string, double>> History,
    double? ValidationLoss,
    TrainingDataSummary Data,
    double TokensPerSecond,
    double StepTimeMs,
    TimeSpan Duration);

/// <summary>A loss term became NaN or infinite.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TrainingDivergedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public TrainingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The optimizer step (1-based) that diverged.</summary>
    public int Step { get; init; }

    /// <summary>The metric that was not finite, for example <c>loss/margin</c>.</summary>
    public string Term { get; init; } = string.Empty;
}
