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

/// <summary>Which objective a run trains: MAGDi's (at its <see cref="DistillationLevel"/>) or a baseline from the paper's Table 1.</summary>
public enum DistillationObjective
{
    /// <summary>The MAGDi objectives of the configured <see cref="DistillationLevel"/> (default).</summary>
    MagDi = 0,

    /// <summary>
    /// DSS-MT: Distilling Step-by-Step (Hsieh et al., 2023) applied to the nodes of all teachers. Two tasks told apart by a
    /// prefix, label prediction and rationale generation, with L = L_label + λ·L_rationale
    /// (<see cref="MagDiTrainingOptions.RationaleWeight"/>). It trains on every valid node of every teacher and round (the
    /// paper's "All Nodes"); <see cref="MagDiTrainingOptions.Level"/> is not used. See docs/objectives.md.
    /// </summary>
    StepByStep = 1,
}

/// <summary>A named set of defaults for the settings where the paper and the authors' released code differ.</summary>
public enum TrainingPreset
{
    /// <summary>The paper's recipe: today's defaults (batches of MAGs, each node encoded once, live node features, ...).</summary>
    Paper = 0,

    /// <summary>
    /// The released training code's semantics as a whole: batches of (positive, negative) pair rows, prompt tokens in the
    /// next-token loss, 12-node padded graphs with 3 classes and the release's own edge list, frozen base-model node
    /// features, cyclic pairing with a placeholder negative, left padding. See the table in docs/training.md.
    /// </summary>
    Release = 1,
}
