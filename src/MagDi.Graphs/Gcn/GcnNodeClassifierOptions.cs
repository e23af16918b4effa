namespace MagDi.Graphs.Gcn;

/// <summary>Settings of <see cref="GcnNodeClassifier"/>, the paper's graph head.</summary>
public sealed class GcnNodeClassifierOptions
{
    /// <summary>Size d of the input node features (the student's hidden size). Required.</summary>
    public int InputSize { get; set; }

    /// <summary>Hidden size of both GCN layers. Default 512 (the released recipe).</summary>
    public int HiddenSize { get; set; } = 512;

    /// <summary>Dropout probability after each GCN layer, applied in training mode only. Default 0.5.</summary>
    public double Dropout { get; set; } = 0.5;

    /// <summary>
    /// Number of node classes C. Default 2 (incorrect, correct: the paper); 3 adds <see cref="NodeLabels.Missing"/> for
    /// padded graphs as in the released recipe.
    /// </summary>
    public int Classes { get; set; } = 2;

    /// <summary>Adjacency normalisation. Default <see cref="GcnNormalizationKind.RowMean"/> (the paper's D^-1 M).</summary>
    public GcnNormalizationKind Normalization { get; set; } = GcnNormalizationKind.RowMean;

    /// <summary>Whether to add self-connections M = A + I. Default true.</summary>
    public bool AddSelfLoops { get; set; } = true;

    /// <summary>Checks every setting and throws once listing all problems.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (InputSize < 1)
        {
            problems.Add($"InputSize must be at least 1 (got {InputSize}).");
        }

        if (HiddenSize < 1)
        {
            problems.Add($"HiddenSize must be at least 1 (got {HiddenSize}).");
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            problems.Add($"Dropout must be in [0, 1) (got {Dropout}).");
        }

        if (Classes < 2)
        {
            problems.Add($"Classes must be at least 2 (got {Classes}).");
        }

        if (!Enum.IsDefined(Normalization))
        {
            problems.Add($"Normalization '{Normalization}' is not a known GcnNormalizationKind.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid GcnNodeClassifierOptions: " + string.Join(" ", problems));
        }
    }
}
