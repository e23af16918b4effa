using System.ComponentModel.DataAnnotations;
using MagDi.Graphs.Gcn;
using MagDi.Losses;

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

    /// <summary>Linear layers that get adapters, by Hugging Face module name. Default q_proj and v_proj (paper).</summary>
    public IList<string> LoraTargetModules { get; set; } = ["q_proj", "v_proj"];

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

    /// <summary>How correct and incorrect nodes of a MAG are paired: <c>paper</c> (default) or <c>cyclic</c> (release).</summary>
    public string Pairing { get; set; } = "paper";

    /// <summary>Hidden size of the two GCN layers. Default 512 (release).</summary>
    [Range(1, 65536)]
    public int GcnHiddenSize { get; set; } = 512;

    /// <summary>Dropout between the GCN layers. Default 0.5 (release).</summary>
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

    /// <summary>Prompt format: <c>auto</c> (from the tokenizer's chat template, else Mistral's [INST]), mistral, llama2-chat, chatml, plain.</summary>
    public string PromptFormat { get; set; } = "auto";

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
    public IReadOnlyList<string> GetProblems()
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
        if (!Enum.IsDefined(Pooling)) problems.Add($"Pooling '{Pooling}' is not known.");
        if (FineTuning == FineTuningMode.Lora && (LoraTargetModules is null || LoraTargetModules.Count == 0 || LoraTargetModules.Any(string.IsNullOrWhiteSpace)))
        {
            problems.Add("LoraTargetModules must name at least one linear layer (for example q_proj, v_proj).");
        }

        if (PairingStrategyParser.TryParse(Pairing) is null)
        {
            problems.Add($"Pairing '{Pairing}' is not known; use 'paper' or 'cyclic'.");
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
        if (string.IsNullOrWhiteSpace(PromptFormat)) problems.Add("PromptFormat must be 'auto' or a format name.");
        return problems;
    }

    /// <summary>Throws one <see cref="ArgumentException"/> listing every problem, if any.</summary>
    public void Validate()
    {
        IReadOnlyList<string> problems = GetProblems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid MagDi training options: " + string.Join(" ", problems));
        }
    }

    /// <summary>A deep copy.</summary>
    public MagDiTrainingOptions Clone()
    {
        var copy = (MagDiTrainingOptions)MemberwiseClone();
        copy.LoraTargetModules = [.. LoraTargetModules];
        return copy;
    }

    /// <summary>The loss weights this level uses: terms the level does not include get weight 0.</summary>
    internal MagDiLossWeights EffectiveWeights() => Objective == DistillationObjective.StepByStep ? new MagDiLossWeights(1, 0, 0) : Level switch
    {
        DistillationLevel.RoundZero or DistillationLevel.CorrectNodes => new MagDiLossWeights(Alpha, 0, 0),
        DistillationLevel.AllNodes => new MagDiLossWeights(Alpha, Beta, 0),
        _ => new MagDiLossWeights(Alpha, Beta, Gamma),
    };
}

internal static class PairingStrategyParser
{
    public static PairingStrategy? TryParse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "paper" => PairingStrategy.Paper,
        "cyclic" or "release" => PairingStrategy.Cyclic,
        _ => null,
    };
}
