using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>The checkpoint's tensor names do not match the model's state-dict keys.</summary>
public sealed class CheckpointKeyMismatchException : IOException
{
    /// <summary>Creates the exception.</summary>
    internal CheckpointKeyMismatchException(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected)
        : base($"Checkpoint '{directory}' does not match the model: " +
               $"{missing.Count} missing key(s) [{string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", ..." : "")}], " +
               $"{unexpected.Count} unexpected key(s) [{string.Join(", ", unexpected.Take(20))}{(unexpected.Count > 20 ? ", ..." : "")}]. " +
               "Use ModelLoadOptions.Strict = false to load anyway.")
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
    }

    /// <summary>Model keys absent from the checkpoint.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Checkpoint keys the model does not have.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }
}
