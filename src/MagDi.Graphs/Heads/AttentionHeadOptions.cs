using MagDi.Graphs.Gcn;
namespace MagDi.Graphs.Heads;

/// <summary>
/// Settings of the attention-based graph heads (<see cref="NodeAttentionClassifier"/>, <see cref="TokenAttentionClassifier"/>).
/// The defaults give them the GCN head's capacity (hidden 512, dropout 0.5, two layers), so the comparison of paper
/// Table 6 changes only how nodes interact.
/// </summary>
public sealed class AttentionHeadOptions
{
    /// <summary>Size d of the input vectors (the student's hidden size). Required.</summary>
    public int InputSize { get; set; }

    /// <summary>Output size of both attention layers. Default 512 (the GCN head's hidden size). A multiple of <see cref="Heads"/>.</summary>
    public int HiddenSize { get; set; } = 512;

    /// <summary>Attention heads of each layer. Default 8 (64 dimensions per head at the default hidden size).</summary>
    public int Heads { get; set; } = 8;

    /// <summary>Dropout probability after each attention layer, applied in training mode only. Default 0.5 (as the GCN head).</summary>
    public double Dropout { get; set; } = 0.5;

    /// <summary>Number of node classes C. Default 2 (incorrect, correct); 3 adds <see cref="Gcn.NodeLabels.Missing"/> for padded graphs.</summary>
    public int Classes { get; set; } = 2;

    /// <summary>
    /// Token head only: pool a node's span with weights 1..n over its n tokens (later tokens weigh more, as the chain
    /// representation does by default) when true (default), or with a plain mean when false.
    /// </summary>
    public bool PositionWeightedSpans { get; set; } = true;

    /// <summary>Checks every setting and throws once listing all problems.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (InputSize < 1)
        {
            problems.Add($"InputSize must be at least 1 (got {InputSize}).");
        }

        if (Heads < 1)
        {
            problems.Add($"Heads must be at least 1 (got {Heads}).");
        }

        if (HiddenSize < 1)
        {
            problems.Add($"HiddenSize must be at least 1 (got {HiddenSize}).");
        }
        else if (Heads >= 1 && HiddenSize % Heads != 0)
        {
            problems.Add($"HiddenSize ({HiddenSize}) must be a multiple of Heads ({Heads}).");
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            problems.Add($"Dropout must be in [0, 1) (got {Dropout}).");
        }

        if (Classes < 2)
        {
            problems.Add($"Classes must be at least 2 (got {Classes}).");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid AttentionHeadOptions: " + string.Join(" ", problems));
        }
    }

    internal AttentionHeadOptions Clone() => (AttentionHeadOptions)MemberwiseClone();
}
