namespace MagDi.Training;

/// <summary>
/// The training data cannot be trained on: no node is usable at the chosen level (all invalid, or none selected by the
/// level or the single teacher), a node is longer than the maximum sequence length, or a node cannot be rendered with the
/// prompt format. The message names the MAGs and nodes; <see cref="GraphIds"/> lists the MAGs to blame so that a caller
/// that read them from files can name the files.
/// </summary>
/// <remarks>
/// Bad input, never a bug in MagDi: the <c>magdi</c> tool maps it to exit code 2.
/// </remarks>
public sealed class TrainingDataException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingDataException()
        : base("The training data cannot be trained on.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong, naming the MAGs and nodes.</param>
    public TrainingDataException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What is wrong, naming the MAGs and nodes.</param>
    /// <param name="innerException">The cause.</param>
    public TrainingDataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The ids of the MAGs to blame (at most a few), or empty when the problem concerns the data as a whole.</summary>
    public IReadOnlyList<string> GraphIds { get; init; } = [];
}
