namespace MagDi.Losses;

/// <summary>How a chain's token hidden states are reduced to one vector.</summary>
public enum PoolingKind
{
    /// <summary>
    /// Mean weighted by position among the non-padding tokens, weights 1..n (later tokens weigh more), as the released
    /// MAGDi code does. Default.
    /// </summary>
    PositionWeightedMean = 0,

    /// <summary>Plain mean over the non-padding tokens.</summary>
    Mean = 1,
}
