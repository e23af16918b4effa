namespace MagDi.Training;

/// <summary>A snapshot of a running distillation, reported after every optimizer step.</summary>
public sealed class TrainingProgress
{
    internal TrainingProgress(int step, int totalSteps, int epoch, double learningRate, IReadOnlyDictionary<string, double> metrics, double tokensPerSecond, TimeSpan elapsed, TimeSpan estimatedRemaining)
    {
        Step = step;
        TotalSteps = totalSteps;
        Epoch = epoch;
        LearningRate = learningRate;
        Metrics = metrics;
        TokensPerSecond = tokensPerSecond;
        Elapsed = elapsed;
        EstimatedRemaining = estimatedRemaining;
    }

    /// <summary>Optimizer steps done.</summary>
    public int Step { get; }

    /// <summary>Optimizer steps planned.</summary>
    public int TotalSteps { get; }

    /// <summary>Current epoch, from 0.</summary>
    public int Epoch { get; }

    /// <summary>Learning rate of the step.</summary>
    public double LearningRate { get; }

    /// <summary>Slash-named metrics of the step (loss/total, loss/nll, loss/margin, loss/node, margin/accuracy, node/accuracy, ...).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; }

    /// <summary>Non-padding tokens processed per second over the run so far.</summary>
    public double TokensPerSecond { get; }

    /// <summary>Time since training started (this process).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Estimated time to the last step.</summary>
    public TimeSpan EstimatedRemaining { get; }
}

/// <summary>How a run ended.</summary>
public enum TrainingStatus
{
    /// <summary>All planned steps ran.</summary>
    Completed,

    /// <summary>Cancelled through the token; a checkpoint holds the progress.</summary>
    Cancelled,
}

/// <summary>What a distillation run produced.</summary>
public sealed class TrainingResult
{
    internal TrainingResult(TrainingStatus status, int steps, string outputDirectory, string finalModelDirectory, string? lastCheckpoint, IReadOnlyDictionary<string, double> finalMetrics, IReadOnlyList<IReadOnlyDictionary<string, double>> history, double? validationLoss, TrainingDataSummary data, double tokensPerSecond, double stepTimeMs, TimeSpan duration)
    {
        Status = status;
        Steps = steps;
        OutputDirectory = outputDirectory;
        FinalModelDirectory = finalModelDirectory;
        LastCheckpoint = lastCheckpoint;
        FinalMetrics = finalMetrics;
        History = history;
        ValidationLoss = validationLoss;
        Data = data;
        TokensPerSecond = tokensPerSecond;
        StepTimeMs = stepTimeMs;
        Duration = duration;
    }

    /// <summary>Completed or cancelled.</summary>
    public TrainingStatus Status { get; }

    /// <summary>Optimizer steps done in total (including steps before a resume).</summary>
    public int Steps { get; }

    /// <summary>The run's output folder.</summary>
    public string OutputDirectory { get; }

    /// <summary>The trained adapter (PEFT layout) or, for full fine-tuning, the model (Hugging Face layout).</summary>
    public string FinalModelDirectory { get; }

    /// <summary>The newest checkpoint folder, or null.</summary>
    public string? LastCheckpoint { get; }

    /// <summary>Metrics of the last step.</summary>
    public IReadOnlyDictionary<string, double> FinalMetrics { get; }

    /// <summary>Metrics of every step in order.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> History { get; }

    /// <summary>The last validation next-token loss, when validation MAGs were given.</summary>
    public double? ValidationLoss { get; }

    /// <summary>What was selected from the training MAGs.</summary>
    public TrainingDataSummary Data { get; }

    /// <summary>Non-padding tokens per second of training (this process).</summary>
    public double TokensPerSecond { get; }

    /// <summary>Mean wall time of an optimizer step in milliseconds (this process).</summary>
    public double StepTimeMs { get; }

    /// <summary>Wall time of training (this process).</summary>
    public TimeSpan Duration { get; }
}

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
    public int Step { get; internal init; }

    /// <summary>The metric that was not finite, for example <c>loss/margin</c>.</summary>
    public string Term { get; internal init; } = string.Empty;
}
