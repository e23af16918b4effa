using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using Microsoft.Extensions.Options;

namespace MagDi.Losses;

/// <summary>Settings of <see cref="MagDiObjective"/>.</summary>
public sealed class MagDiObjectiveOptions
{
    /// <summary>Size d of the node representations (the student's hidden size). Required.</summary>
    public int HiddenSize { get; set; }

    /// <summary>Weights α, β, γ of equation 4. Default α = 1, β = 0.1, γ = 1 (see <see cref="MagDiLossWeights"/>).</summary>
    public MagDiLossWeights Weights { get; set; } = new();

    /// <summary>Margin ρ of the ranking loss. Default 1 (the paper).</summary>
    public double Margin { get; set; } = MarginRankingLoss.DefaultMargin;

    /// <summary>How pairs are formed inside each MAG. Default <see cref="PairingStrategy.Paper"/>.</summary>
    public PairingStrategy Pairing { get; set; } = PairingStrategy.Paper;

    /// <summary>Seed of the objective's own random source for pairing (used when the input brings none). Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Where the GCN's node features come from. Default <see cref="NodeFeatureSource.Live"/>.</summary>
    public NodeFeatureSource NodeFeatures { get; set; } = NodeFeatureSource.Live;

    /// <summary>
    /// How the node-classification term models the MAG: <see cref="GraphHeadKind.Gcn"/> (default, the paper's MAGDi),
    /// <see cref="GraphHeadKind.NodeAttention"/> or <see cref="GraphHeadKind.TokenAttention"/> (paper Table 6). Token attention
    /// reads <see cref="MagDiObjectiveInput.Tokens"/> instead of <see cref="MagDiObjectiveInput.NodeRepresentations"/>.
    /// </summary>
    public GraphHeadKind GraphHead { get; set; } = GraphHeadKind.Gcn;

    /// <summary>Attention heads of each layer of the attention graph heads. Default 8. <see cref="GcnHiddenSize"/> must be a multiple.</summary>
    public int AttentionHeads { get; set; } = 8;

    /// <summary>
    /// How the token-attention head pools a node's span: position-weighted (default, as the chain representation) or plain
    /// mean. Other heads ignore it.
    /// </summary>
    public PoolingKind SpanPooling { get; set; } = PoolingKind.PositionWeightedMean;

    /// <summary>Hidden size of the graph head's two layers (GCN or attention). Default 512.</summary>
    public int GcnHiddenSize { get; set; } = 512;

    /// <summary>Dropout after each of the graph head's two layers (training mode only). Default 0.5.</summary>
    public double GcnDropout { get; set; } = 0.5;

    /// <summary>Node classes: 2 (paper, default) or 3 with padded missing nodes (released recipe).</summary>
    public int NodeClasses { get; set; } = 2;

    /// <summary>Adjacency normalisation of the GCN. Default <see cref="GcnNormalizationKind.RowMean"/> (the paper).</summary>
    public GcnNormalizationKind Normalization { get; set; } = GcnNormalizationKind.RowMean;

    /// <summary>Checks every setting and throws once listing all problems.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are invalid; <see cref="OptionsValidationException.Failures"/> lists them all.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (HiddenSize < 1)
        {
            problems.Add($"HiddenSize must be at least 1 (got {HiddenSize}).");
        }

        if (Weights is null)
        {
            problems.Add("Weights is required.");
        }
        else
        {
            problems.AddRange(Weights.GetProblems());
        }

        if (!double.IsFinite(Margin))
        {
            problems.Add($"Margin must be a finite number (got {Margin}).");
        }

        if (Pairing is null)
        {
            problems.Add("Pairing is required.");
        }

        if (!Enum.IsDefined(NodeFeatures))
        {
            problems.Add($"NodeFeatures '{NodeFeatures}' is not a known NodeFeatureSource.");
        }

        if (GcnHiddenSize < 1)
        {
            problems.Add($"GcnHiddenSize must be at least 1 (got {GcnHiddenSize}).");
        }

        if (!(GcnDropout >= 0 && GcnDropout < 1))
        {
            problems.Add($"GcnDropout must be in [0, 1) (got {GcnDropout}).");
        }

        if (NodeClasses < 2)
        {
            problems.Add($"NodeClasses must be at least 2 (got {NodeClasses}).");
        }

        if (!Enum.IsDefined(GraphHead))
        {
            problems.Add($"GraphHead '{GraphHead}' is not a known GraphHeadKind.");
        }
        else if (GraphHead != GraphHeadKind.Gcn)
        {
            if (AttentionHeads < 1)
            {
                problems.Add($"AttentionHeads must be at least 1 (got {AttentionHeads}).");
            }
            else if (GcnHiddenSize >= 1 && GcnHiddenSize % AttentionHeads != 0)
            {
                problems.Add($"GcnHiddenSize ({GcnHiddenSize}) must be a multiple of AttentionHeads ({AttentionHeads}) for GraphHead {GraphHead}.");
            }
        }

        if (!Enum.IsDefined(SpanPooling))
        {
            problems.Add($"SpanPooling '{SpanPooling}' is not a known PoolingKind.");
        }

        if (!Enum.IsDefined(Normalization))
        {
            problems.Add($"Normalization '{Normalization}' is not a known GcnNormalizationKind.");
        }

        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MagDiObjectiveOptions), problems);
        }
    }

    internal MagDiObjectiveOptions Clone() => (MagDiObjectiveOptions)MemberwiseClone();
}
