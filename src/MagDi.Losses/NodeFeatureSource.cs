namespace MagDi.Losses;

/// <summary>Where the GCN's node features come from.</summary>
public enum NodeFeatureSource
{
    /// <summary>
    /// The pooled live hidden states of the student in the same step: the node loss trains the student (its LoRA
    /// weights), as the paper intends. Default.
    /// </summary>
    Live = 0,

    /// <summary>
    /// Features that carry no gradient: precomputed ones (<see cref="MagDiObjectiveInput.FrozenNodeFeatures"/>, as the
    /// released code stores the frozen base model's) or, if none are given, the live ones detached. The node loss then
    /// trains only the GCN head.
    /// </summary>
    Frozen = 1,
}
