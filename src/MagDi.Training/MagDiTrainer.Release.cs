using MagDi.Graphs;
using MagDi.Losses;
using MagDi.Modeling;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>The Release preset's training path: pair rows, the 12-node template, left padding (docs/training.md).</summary>
public sealed partial class MagDiTrainer
{
    /// <summary>Negative rows with this many tokens or fewer are the release's padding: dropped from the margin loss.</summary>
    internal const int ReleaseShortNegativeTokens = 5;

    /// <summary>Texts per forward when the release computes its frozen node features (its get_node_emb batch size).</summary>
    internal const int ReleaseFeatureBatch = 50;

    private List<PreparedGraph> ExpandReleaseRows(List<PreparedGraph> graphs, out List<(InteractionGraph Graph, ReleaseLayout Layout)> layouts)
    {
        List<PreparedGraph> rows = ReleaseRows.Expand(graphs, _tokenizer, Template, Options.StripAgreementSentences, out layouts);
        if (rows.Count == 0)
        {
            throw new TrainingDataException(
                $"No training data for the Release preset: it trains on (positive, negative) rows of a MAG's correct nodes, and none of the " +
                $"{graphs.Count} MAG(s) with valid nodes has a correct node.")
            {
                GraphIds = [.. graphs.Take(10).Select(g => g.Graph.Id)],
            };
        }

        int placeholders = rows.Count(r => r.Release!.PlaceholderNegative);
        LogReleaseRows(rows.Count, graphs.Count, placeholders);
        return rows;
    }

    /// <summary>
    /// The release's data order: every epoch a seeded shuffle of the rows (Hugging Face's random sampler; no length
    /// bucketing), cut into micro-batches of <see cref="MagDiTrainingOptions.BatchSize"/> rows.
    /// </summary>
    private List<List<PreparedGraph>> ReleaseBatchesForEpoch(List<PreparedGraph> rows, int epoch)
    {
        var rng = new Random(unchecked((Options.Seed * 1_000_003) + epoch));
        int[] order = Enumerable.Range(0, rows.Count).ToArray();
        rng.Shuffle(order);
        return [.. order.Chunk(Options.BatchSize).Select(chunk => chunk.Select(i => rows[i]).ToList())];
    }

    /// <summary>
    /// The release's frozen node features: every slot text of every MAG (placeholders included), in MAG order, encoded by the
    /// student before training (LoRA B is zero: the base model) in left-padded batches of 50 texts, pooled with absolute
    /// position weights. Keyed by MAG: [12, d] each.
    /// </summary>
    private Dictionary<InteractionGraph, Tensor> PrecomputeReleaseFeatures(List<(InteractionGraph Graph, ReleaseLayout Layout)> layouts, Device device)
    {
        var texts = layouts.SelectMany(l => l.Layout.SlotIds).ToList();
        var pooled = new List<Tensor>();
        _model.eval();
        using (no_grad())
        {
            foreach (int[][] chunk in texts.Chunk(ReleaseFeatureBatch))
            {
                using var scope = NewDisposeScope();
                var (ids, mask) = MagBatch.LeftPad(chunk, PadId());
                Tensor idTensor = tensor(ids, [chunk.Length, ids.Length / chunk.Length], ScalarType.Int64, device);
                Tensor maskTensor = tensor(mask, [chunk.Length, ids.Length / chunk.Length], ScalarType.Int64, device);
                CausalLMOutput output = _model.forward(new CausalLMInput(idTensor, maskTensor, OutputHiddenStates: true, LogitsToKeep: 0));
                pooled.Add(AbsolutePositionPool(output.LastHiddenState!, maskTensor).DetachFromDisposeScope());
            }
        }

        _model.train();
        using var all = cat(pooled, 0);
        foreach (Tensor t in pooled)
        {
            t.Dispose();
        }

        var features = new Dictionary<InteractionGraph, Tensor>(ReferenceEqualityComparer.Instance);
        for (int g = 0; g < layouts.Count; g++)
        {
            features[layouts[g].Graph] = all.narrow(0, g * ReleaseTemplate.NodeCount, ReleaseTemplate.NodeCount).clone().DetachFromDisposeScope();
        }

        return features;
    }

    /// <summary>
    /// One release micro-batch: the positives and the negatives are encoded apart (each left-padded to its own longest row),
    /// pooled with absolute position weights, scored as pairs (row i, row B + i) minus the pairs whose negative is short
    /// padding, and the rows' 12-node graphs are classified from the frozen features.
    /// </summary>
    private StepLoss ForwardRelease(MagBatch batch, Dictionary<InteractionGraph, Tensor> frozen)
    {
        var (negIds, negMask) = batch.Negatives!.Value;
        CausalLMOutput pos = _model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
        CausalLMOutput neg = _model.forward(new CausalLMInput(negIds, negMask, OutputHiddenStates: true, LogitsToKeep: 0));
        Tensor reps = cat([AbsolutePositionPool(pos.LastHiddenState!, batch.AttentionMask), AbsolutePositionPool(neg.LastHiddenState!, negMask)], 0); // [2B, d]
        MagDiLoss loss = Objective!.forward(new MagDiObjectiveInput
        {
            HiddenStates = pos.LastHiddenState,
            OutputProjection = _model.ComputeLogits,
            Labels = batch.Labels,
            NodeRepresentations = reps,
            Pairs = ReleasePairs(batch.Source.Select(r => r.Nodes[1].Ids.Length).ToList()),
            Graphs = batch.Graphs,
            FrozenNodeFeatures = cat(batch.Source.Select(r => frozen[r.Graph]).ToList(), 0),
        });
        return new StepLoss(loss.Total, loss.Report.Metrics);
    }

    /// <summary>
    /// The release's pairs of a micro-batch of B rows: (i, B + i), without the rows whose negative has 5 tokens or fewer
    /// (the placeholder) unless that would leave none, in which case the release keeps them all.
    /// </summary>
    internal static IReadOnlyList<(int Positive, int Negative)> ReleasePairs(IReadOnlyList<int> negativeLengths)
    {
        int b = negativeLengths.Count;
        var all = Enumerable.Range(0, b).Select(i => (i, b + i)).ToList();
        var kept = all.Where(p => negativeLengths[p.i] > ReleaseShortNegativeTokens).ToList();
        return kept.Count > 0 ? kept : all;
    }

    /// <summary>
    /// The release's pooling: weights 1..T by absolute position in the padded row, zero on padding. On left-padded rows the
    /// weights of a row's tokens therefore start above 1 and depend on the batch's longest row.
    /// </summary>
    /// <param name="hidden">[B, T, d] last hidden states.</param>
    /// <param name="mask">[B, T] attention mask.</param>
    /// <returns>[B, d] in float32.</returns>
    internal static Tensor AbsolutePositionPool(Tensor hidden, Tensor mask)
    {
        using var scope = NewDisposeScope();
        Tensor h = hidden.to(ScalarType.Float32);
        Tensor positions = Scalars.Arange(1, hidden.shape[1] + 1, ScalarType.Float32, hidden.device).unsqueeze(0); // [1, T]
        Tensor weights = mask.to(ScalarType.Float32) * positions;                                                          // [B, T]
        Tensor pooled = bmm(weights.unsqueeze(1), h).squeeze(1);                                                             // [B, d]
        return (pooled / weights.sum(1, keepdim: true).ClampMin(1.0)).MoveToOuterDisposeScope();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Release preset: {Rows} (positive, negative) rows from {Graphs} MAGs ({Placeholder} with the placeholder negative)")]
    private partial void LogReleaseRows(int rows, int graphs, int placeholder);
}
