using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using MagDi.Losses;

namespace MagDi.Training;

/// <summary>
/// The settings <see cref="TrainingPreset.Release"/> decides, with the paper's default and the release's value of each.
/// The behaviours that exist only in the release's layout (pair-row batches, the 12-node template graph, left padding)
/// have no setting of their own: the preset alone turns them on (see <see cref="ReleaseRows"/>).
/// </summary>
internal static class TrainingPresets
{
    /// <summary>One setting the Release preset decides.</summary>
    internal sealed record Setting(
        string Name,
        string ReleaseValue,
        Func<MagDiTrainingOptions, object> Get,
        Action<MagDiTrainingOptions, object> Set,
        object PaperDefault,
        object Release)
    {
        public bool IsRelease(MagDiTrainingOptions o) => Normalize(Get(o)).Equals(Normalize(Release));

        public bool IsPaperDefault(MagDiTrainingOptions o) => Normalize(Get(o)).Equals(Normalize(PaperDefault));

        private static object Normalize(object value) => value;
    }

    /// <summary>Every setting the Release preset decides, in the order of the table in docs/training.md.</summary>
    public static IReadOnlyList<Setting> ReleaseSettings { get; } =
    [
        new("Objective", "MagDi (the release trains MAGDi only)", o => o.Objective, (o, v) => o.Objective = (DistillationObjective)v, DistillationObjective.MagDi, DistillationObjective.MagDi),
        new("Level", "Structure (the release trains all three losses)", o => o.Level, (o, v) => o.Level = (DistillationLevel)v, DistillationLevel.Structure, DistillationLevel.Structure),
        new("IncludePromptInLoss", "true", o => o.IncludePromptInLoss, (o, v) => o.IncludePromptInLoss = (bool)v, false, true),
        new("Pairing", "Cyclic", o => o.Pairing, (o, v) => o.Pairing = (PairingStrategyKind)v, PairingStrategyKind.Paper, PairingStrategyKind.Cyclic),
        new("NodeClasses", "3", o => o.NodeClasses, (o, v) => o.NodeClasses = (int)v, 2, 3),
        new("GraphHead", "Gcn (the release's node loss is a GCN)", o => o.GraphHead, (o, v) => o.GraphHead = (GraphHeadKind)v, GraphHeadKind.Gcn, GraphHeadKind.Gcn),
        new("NodeFeatures", "Frozen", o => o.NodeFeatures, (o, v) => o.NodeFeatures = (NodeFeatureSource)v, NodeFeatureSource.Live, NodeFeatureSource.Frozen),
        new("GcnNormalization", "Symmetric (PyTorch Geometric's GCNConv)", o => o.GcnNormalization, (o, v) => o.GcnNormalization = (GcnNormalizationKind)v, GcnNormalizationKind.RowMean, GcnNormalizationKind.Symmetric),
        new("Pooling", "PositionWeightedMean", o => o.Pooling, (o, v) => o.Pooling = (PoolingKind)v, PoolingKind.PositionWeightedMean, PoolingKind.PositionWeightedMean),
        new("StripAgreementSentences", "true", o => o.StripAgreementSentences, (o, v) => o.StripAgreementSentences = (bool)v, false, true),
    ];

    /// <summary>
    /// The options a run uses: with <see cref="TrainingPreset.Release"/>, every decided setting still at the paper's default
    /// takes the release's value. Paper options come back unchanged.
    /// </summary>
    public static MagDiTrainingOptions Apply(MagDiTrainingOptions options)
    {
        MagDiTrainingOptions copy = options.Clone();
        if (copy.Preset == TrainingPreset.Release)
        {
            foreach (Setting s in ReleaseSettings)
            {
                if (s.IsPaperDefault(copy))
                {
                    s.Set(copy, s.Release);
                }
            }
        }

        return copy;
    }

    /// <summary>Settings of <paramref name="options"/> that hold neither the paper's default nor the Release preset's value.</summary>
    public static IEnumerable<string> Contradictions(MagDiTrainingOptions options)
    {
        if (options.Preset != TrainingPreset.Release)
        {
            yield break;
        }

        foreach (Setting s in ReleaseSettings)
        {
            if (!s.IsPaperDefault(options) && !s.IsRelease(options))
            {
                yield return Describe(s, s.Get(options));
            }
        }
    }

    /// <summary>
    /// Settings that were set explicitly (by a configure action) to a value the Release preset contradicts. An explicit
    /// value is one that stays the same whether the run starts from the paper's default or from the release's value.
    /// </summary>
    public static IEnumerable<string> ExplicitContradictions(MagDiTrainingOptions start, IReadOnlyList<Action<MagDiTrainingOptions>> configure)
    {
        MagDiTrainingOptions asGiven = Resolve(start.Clone(), configure);
        if (asGiven.Preset != TrainingPreset.Release)
        {
            yield break;
        }

        MagDiTrainingOptions flipped = start.Clone();
        foreach (Setting s in ReleaseSettings.Where(s => !Equals(s.PaperDefault, s.Release)))
        {
            s.Set(flipped, s.IsPaperDefault(flipped) ? s.Release : s.PaperDefault);
        }

        flipped = Resolve(flipped, configure);
        foreach (Setting s in ReleaseSettings.Where(s => !Equals(s.PaperDefault, s.Release)))
        {
            bool isExplicit = Equals(s.Get(asGiven), s.Get(flipped));
            if (isExplicit && !s.IsRelease(asGiven))
            {
                yield return Describe(s, s.Get(asGiven));
            }
        }
    }

    private static MagDiTrainingOptions Resolve(MagDiTrainingOptions options, IReadOnlyList<Action<MagDiTrainingOptions>> configure)
    {
        foreach (var action in configure)
        {
            action(options);
        }

        return options;
    }

    private static string Describe(Setting s, object value) =>
        $"Preset Release contradicts {s.Name} = {value}: the release's training uses {s.Name} = {s.ReleaseValue}. " +
        $"Remove the {s.Name} setting, or use Preset Paper.";
}
