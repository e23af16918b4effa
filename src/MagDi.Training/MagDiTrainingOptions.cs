using System.ComponentModel.DataAnnotations;
using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using MagDi.Losses;
using Microsoft.Extensions.Options;

namespace MagDi.Training;

/// <summary>
/// Every setting of a MAGDi distillation run, bindable from configuration (section <see cref="SectionName"/>).
/// Defaults follow the paper's recipe with the authors' released values where the paper gives none.
/// </summary>
public sealed class MagDiTrainingOptions
{
    /// <summary>The configuration section these options bind to by default: <c>MagDi:Training</c>.</summary>
    public const string SectionName = "MagDi:Training";

    /// <summary>
    /// The paper's recipe (default) or the released code's semantics as a whole. <see cref="TrainingPreset.Release"/> sets
    /// every setting where the two differ (see the table in docs/training.md); a setting given explicitly that contradicts
    /// the preset is an error naming it.
    /// </summary>
    public TrainingPreset Preset { get; set; } = TrainingPreset.Paper;

    /// <summary>What the student learns from. Default <see cref="DistillationLevel.Structure"/> (MAGDi).</summary>
    public DistillationLevel Level { get; set; } = DistillationLevel.Structure;

    /// <summary>
    /// MAGDi's objectives (default) or the DSS-MT baseline (<see cref="DistillationObjective.StepByStep"/>: label and rationale
    /// as two prefixed tasks, on every valid node of every teacher).
    /// </summary>
    public DistillationObjective Objective { get; set; } = DistillationObjective.MagDi;

    /// <summary>λ of DSS-MT: L = L_label + λ·L_rationale. Default 1 (Hsieh et al.). Used only with <see cref="DistillationObjective.StepByStep"/>.</summary>
    [Range(0.0, 100.0)]
    public double RationaleWeight { get; set; } = 1.0;

    /// <summary>
    /// Learn from this agent's nodes only (the single-teacher baseline, SiT); null uses every teacher. With
    /// <see cref="DistillationLevel.RoundZero"/> this is the paper's SiT baseline: the teacher's own correct answers.
    /// </summary>
    public string? SingleTeacher { get; set; }

    /// <summary>LoRA on a frozen base (default, the paper) or full fine-tuning.</summary>
    public FineTuningMode FineTuning { get; set; } = FineTuningMode.Lora;

    /// <summary>LoRA rank r. Default 16 (paper).</summary>
    [Range(1, 4096)]
    public int LoraRank { get; set; } = 16;

    /// <summary>LoRA alpha; the adapter is scaled by alpha / r. Default 32 (paper).</summary>
    [Range(1e-6, 1e6)]
    public double LoraAlpha { get; set; } = 32;

    /// <summary>Dropout on the adapter branch only. Default 0.05 (paper).</summary>
    [Range(0.0, 0.99)]
    public double LoraDropout { get; set; } = 0.05;

    /// <summary>
    /// Linear layers that get adapters, by Hugging Face module name; null (default) uses <see cref="DefaultLoraTargetModules"/>,
    /// q_proj and v_proj (paper). A list bound from configuration replaces the default.
    /// </summary>
    /// <remarks>
    /// Null rather than a pre-filled list because <c>ConfigurationBinder</c> appends configured items to a list the property
    /// already holds: a default list could never lose an entry and would gain duplicates.
    /// </remarks>
    public IList<string>? LoraTargetModules { get; set; }

    /// <summary>The LoRA targets used when <see cref="LoraTargetModules"/> is null: q_proj and v_proj (paper).</summary>
    public static IReadOnlyList<string> DefaultLoraTargetModules { get; } = ["q_proj", "v_proj"];

    /// <summary>Weight α of the next-token loss on correct chains (eq. 4). Default 1.0 (release).</summary>
    [Range(0.0, 1.0)]
    public double Alpha { get; set; } = 1.0;

    /// <summary>Weight β of the margin-ranking loss (eq. 4); used from level 3. Default 0.1 (release).</summary>
    [Range(0.0, 1.0)]
    public double Beta { get; set; } = 0.1;

    /// <summary>Weight γ of the node-classification loss (eq. 4); used at level 4. Default 1.0 (release).</summary>
    [Range(0.0, 1.0)]
    public double Gamma { get; set; } = 1.0;

    /// <summary>Margin ρ of the ranking loss. Default 1 (paper).</summary>
    [Range(-1.0, 1.0)]
    public double Margin { get; set; } = 1.0;

    /// <summary>How correct and incorrect nodes of a MAG are paired: <see cref="PairingStrategyKind.Paper"/> (default),
    /// <see cref="PairingStrategyKind.Cyclic"/> (release) or <see cref="PairingStrategyKind.AllPairs"/>.</summary>
    public PairingStrategyKind Pairing { get; set; } = PairingStrategyKind.Paper;

    /// <summary>
    /// How the node-classification loss (level <see cref="DistillationLevel.Structure"/>) models a MAG:
    /// <see cref="GraphHeadKind.Gcn"/> over its edges (default, the paper's MAGDi), or the paper's Table 6 alternatives
    /// <see cref="GraphHeadKind.NodeAttention"/> (self-attention over the node vectors, no edges) and
    /// <see cref="GraphHeadKind.TokenAttention"/> (each MAG run through the student as one token sequence, self-attention
    /// over all its tokens, nodes classified from their spans). Levels 1-3 have no node loss and ignore it.
    /// </summary>
    public GraphHeadKind GraphHead { get; set; } = GraphHeadKind.Gcn;

    /// <summary>Attention heads per layer of the attention graph heads. Default 8; <see cref="GcnHiddenSize"/> must be a multiple.</summary>
    [Range(1, 4096)]
    public int AttentionHeads { get; set; } = 8;

    /// <summary>Hidden size of the graph head's two layers (GCN or attention). Default 512 (release).</summary>
    [Range(1, 65536)]
    public int GcnHiddenSize { get; set; } = 512;

    /// <summary>Dropout after each of the graph head's two layers (GCN or attention). Default 0.5 (release).</summary>
    [Range(0.0, 0.99)]
    public double GcnDropout { get; set; } = 0.5;

    /// <summary>Node classes: 2 (correct, incorrect; default) or 3 (adds the release's padded missing-node class).</summary>
    [Range(2, 3)]
    public int NodeClasses { get; set; } = 2;

    /// <summary>GCN adjacency normalisation: row mean D^-1 M (paper, default) or symmetric (Kipf and Welling).</summary>
    public GcnNormalizationKind GcnNormalization { get; set; } = GcnNormalizationKind.RowMean;

    /// <summary>Node features from the student's live hidden states (default, the paper) or frozen base-model features (release).</summary>
    public NodeFeatureSource NodeFeatures { get; set; } = NodeFeatureSource.Live;

    /// <summary>How a chain's hidden states become one vector. Default position-weighted mean (release).</summary>
    public PoolingKind Pooling { get; set; } = PoolingKind.PositionWeightedMean;

    /// <summary>Also train the next-token loss on prompt tokens, as the release does. Default false.</summary>
    public bool IncludePromptInLoss { get; set; }

    /// <summary>Drop reasoning sentences that start with "I agree"/"I disagree", as the release does. Default false.</summary>
    public bool StripAgreementSentences { get; set; }

    /// <summary>Peak learning rate of the student's trainable weights. Default 5e-6 (paper).</summary>
    [Range(1e-12, 10.0)]
    public double LearningRate { get; set; } = 5e-6;

    /// <summary>Learning rate of the scorer and GCN heads; null uses <see cref="LearningRate"/> (release).</summary>
    [Range(1e-12, 10.0)]
    public double? HeadLearningRate { get; set; }

    /// <summary>AdamW weight decay of matrices (biases and norms get none). Default 0 (Hugging Face Trainer).</summary>
    [Range(0.0, 10.0)]
    public double WeightDecay { get; set; }

    /// <summary>AdamW β1. Default 0.9.</summary>
    [Range(0.0, 0.999999)]
    public double AdamBeta1 { get; set; } = 0.9;

    /// <summary>AdamW β2. Default 0.999.</summary>
    [Range(0.0, 0.999999)]
    public double AdamBeta2 { get; set; } = 0.999;

    /// <summary>AdamW ε. Default 1e-8.</summary>
    [Range(1e-16, 1.0)]
    public double AdamEpsilon { get; set; } = 1e-8;

    /// <summary>Steps of linear warm-up, then linear decay to zero. Default 100 (paper).</summary>
    [Range(0, int.MaxValue)]
    public int WarmupSteps { get; set; } = 100;

    /// <summary>Passes over the training MAGs. Default 10 (paper).</summary>
    [Range(1, 100000)]
    public int Epochs { get; set; } = 10;

    /// <summary>Stop after this many optimizer steps (overrides <see cref="Epochs"/> when smaller); null for none.</summary>
    [Range(1, int.MaxValue)]
    public int? MaxSteps { get; set; }

    /// <summary>MAGs per micro-batch; every selected node of a MAG travels with it. Default 4 (paper's per-device batch).</summary>
    [Range(1, 100000)]
    public int BatchSize { get; set; } = 4;

    /// <summary>Micro-batches per optimizer step. Default 4, for an effective batch of 16 (paper).</summary>
    [Range(1, 100000)]
    public int GradientAccumulationSteps { get; set; } = 4;

    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off. Default 1.0.</summary>
    [Range(0.0, 1e6)]
    public double MaxGradNorm { get; set; } = 1.0;

    /// <summary>Longest tokenised node (prompt + target); null uses the model's context length.</summary>
    [Range(8, int.MaxValue)]
    public int? MaxSequenceLength { get; set; }

    /// <summary>Recompute each decoder layer in the backward pass to save memory. Default false.</summary>
    public bool ActivationCheckpointing { get; set; }

    /// <summary>Prompt format: <see cref="PromptFormatKind.Auto"/> (default: from the tokenizer's chat template, else Mistral's [INST]) or a named format.</summary>
    public PromptFormatKind PromptFormat { get; set; } = PromptFormatKind.Auto;

    /// <summary>Seed of data order, pairing, dropout and head initialisation. Default 42.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>Where checkpoints, metrics and the final adapter go. Required.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>Write a checkpoint every this many optimizer steps (0: only at the end and on cancellation). Default 0.</summary>
    [Range(0, int.MaxValue)]
    public int SaveEverySteps { get; set; }

    /// <summary>Checkpoints kept; older ones are deleted. Default 2.</summary>
    [Range(1, 1000)]
    public int KeepLastCheckpoints { get; set; } = 2;

    /// <summary>Compute the validation loss every this many optimizer steps (0: at the end of each epoch). Default 0.</summary>
    [Range(0, int.MaxValue)]
    public int EvalEverySteps { get; set; }

    /// <summary>Continue from the newest checkpoint in <see cref="OutputDirectory"/> when there is one. Default false.</summary>
    public bool Resume { get; set; }

    /// <summary>Validates every setting and returns every problem found (empty when valid).</summary>
    internal IReadOnlyList<string> GetProblems()
    {
        var problems = new List<string>();
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true);
        problems.AddRange(results.Select(r => r.ErrorMessage ?? "invalid value"));
        if (!Enum.IsDefined(Level)) problems.Add($"Level '{Level}' is not a DistillationLevel.");
        if (!Enum.IsDefined(Preset)) problems.Add($"Preset '{Preset}' is not a TrainingPreset (Paper or Release).");
        if (!Enum.IsDefined(Objective)) problems.Add($"Objective '{Objective}' is not a DistillationObjective (MagDi or StepByStep).");
        problems.AddRange(TrainingPresets.Contradictions(this));
        if (!Enum.IsDefined(FineTuning)) problems.Add($"FineTuning '{FineTuning}' is not a FineTuningMode.");
        if (!Enum.IsDefined(GcnNormalization)) problems.Add($"GcnNormalization '{GcnNormalization}' is not known.");
        if (!Enum.IsDefined(NodeFeatures)) problems.Add($"NodeFeatures '{NodeFeatures}' is not known.");
        if (!Enum.IsDefined(GraphHead)) problems.Add($"GraphHead '{GraphHead}' is not a GraphHeadKind (Gcn, NodeAttention, TokenAttention).");
        if (GraphHead is GraphHeadKind.NodeAttention or GraphHeadKind.TokenAttention && AttentionHeads >= 1 && GcnHiddenSize % AttentionHeads != 0)
        {
            problems.Add($"GraphHead {GraphHead}: GcnHiddenSize ({GcnHiddenSize}) must be a multiple of AttentionHeads ({AttentionHeads}).");
        }

        if (GraphHead == GraphHeadKind.TokenAttention && NodeFeatures == NodeFeatureSource.Frozen)
        {
            problems.Add("GraphHead TokenAttention cannot use NodeFeatures Frozen: frozen features are one precomputed vector per node, " +
                "while the token head reads the student's states of the whole linearised MAG. Use NodeFeatures Live, or GraphHead Gcn or NodeAttention.");
        }

        if (!Enum.IsDefined(Pooling)) problems.Add($"Pooling '{Pooling}' is not known.");
        if (!Enum.IsDefined(Pairing)) problems.Add($"Pairing '{Pairing}' is not known; use {string.Join(", ", Enum.GetNames<PairingStrategyKind>())}.");
        if (!Enum.IsDefined(PromptFormat)) problems.Add($"PromptFormat '{PromptFormat}' is not known; use {string.Join(", ", Enum.GetNames<PromptFormatKind>())}.");
        if (FineTuning == FineTuningMode.Lora && LoraTargetModules is not null && (LoraTargetModules.Count == 0 || LoraTargetModules.Any(string.IsNullOrWhiteSpace)))
        {
            problems.Add("LoraTargetModules must name at least one linear layer (for example q_proj, v_proj), or be null for the default.");
        }

        if (LoraTargetModules is not null && LoraTargetModules.Distinct(StringComparer.Ordinal).Count() != LoraTargetModules.Count)
        {
            problems.Add($"LoraTargetModules names a layer more than once ({string.Join(", ", LoraTargetModules)}).");
        }

        if (Objective != DistillationObjective.StepByStep)
        {
            // DSS-MT has its own two terms (RationaleWeight); the MAGDi weights do not apply to it.
            if (Alpha <= 0) problems.Add("Alpha must be positive: every level trains the next-token loss on correct chains.");
            if (Level == DistillationLevel.AllNodes && Beta <= 0) problems.Add("Level AllNodes needs Beta > 0 (the margin-ranking loss).");
            if (Level == DistillationLevel.Structure && Gamma <= 0) problems.Add("Level Structure needs Gamma > 0 (the node-classification loss).");
        }
        if (string.IsNullOrWhiteSpace(OutputDirectory)) problems.Add("OutputDirectory is required.");
        if (SingleTeacher is not null && string.IsNullOrWhiteSpace(SingleTeacher)) problems.Add("SingleTeacher must be an agent name or null.");
        return problems;
    }

    /// <summary>Throws one <see cref="OptionsValidationException"/> listing every problem, if any.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are invalid; <see cref="OptionsValidationException.Failures"/> lists them all.</exception>
    public void Validate()
    {
        IReadOnlyList<string> problems = GetProblems();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MagDiTrainingOptions), problems);
        }
    }

    /// <summary>A deep copy.</summary>
    public MagDiTrainingOptions Clone()
    {
        var copy = (MagDiTrainingOptions)MemberwiseClone();
        copy.LoraTargetModules = LoraTargetModules is null ? null : [.. LoraTargetModules];
        return copy;
    }

    /// <summary>The LoRA targets of this run: <see cref="LoraTargetModules"/>, or the default when it is null.</summary>
    internal IReadOnlyList<string> EffectiveLoraTargetModules => LoraTargetModules is { } targets ? [.. targets] : DefaultLoraTargetModules;

    /// <summary>The loss weights this level uses: terms the level does not include get weight 0.</summary>
    internal MagDiLossWeights EffectiveWeights() => Objective == DistillationObjective.StepByStep ? new MagDiLossWeights(1, 0, 0) : Level switch
    {
        DistillationLevel.RoundZero or DistillationLevel.CorrectNodes => new MagDiLossWeights(Alpha, 0, 0),
        DistillationLevel.AllNodes => new MagDiLossWeights(Alpha, Beta, 0),
        _ => new MagDiLossWeights(Alpha, Beta, Gamma),
    };
}
