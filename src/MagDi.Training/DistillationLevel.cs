namespace MagDi.Training;

/// <summary>
/// The four levels of MAGDi (paper section 1 and Table 1); each level adds a component of the MAG to what the
/// student learns from.
/// </summary>
public enum DistillationLevel
{
    /// <summary>Level 1: the correct round-0 (pre-interaction) nodes of all teachers; next-token loss only.</summary>
    RoundZero = 1,

    /// <summary>Level 2: all correct nodes (pre- and post-interaction); next-token loss only.</summary>
    CorrectNodes = 2,

    /// <summary>Level 3: all nodes; next-token loss on correct nodes plus the margin-ranking loss against incorrect ones.</summary>
    AllNodes = 3,

    /// <summary>Level 4 (MAGDi): all nodes and edges; adds GCN node classification over the MAG's structure.</summary>
    Structure = 4,
}

/// <summary>How the student's weights are trained.</summary>
public enum FineTuningMode
{
    /// <summary>LoRA adapters on a frozen base (the paper's recipe).</summary>
    Lora,

    /// <summary>Every weight of the student is trained; for small students trained from scratch, as in the quickstart.</summary>
    Full,
}
