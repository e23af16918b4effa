using MagDi.Graphs.Gcn;
using MagDi.Graphs.Heads;
using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>
/// What one training step hands to <see cref="MagDiObjective"/>: the student's outputs for every unique node of the batch,
/// each computed once, and the graphs those nodes belong to.
/// </summary>
/// <remarks>
/// Node order: the real nodes of <see cref="Graphs"/> in batch order (graph 0's nodes 0..N0-1, then graph 1's, ...).
/// <see cref="NodeRepresentations"/> has one row per real node in that order; pairs and the GCN batch index into it.
/// </remarks>
public sealed class MagDiObjectiveInput
{
    /// <summary>Student logits [B, T, V] for the next-token loss (for example of all nodes; incorrect ones carry only ignored labels).</summary>
    public Tensor? Logits { get; init; }

    /// <summary>
    /// Instead of <see cref="Logits"/>: the student's final hidden states [B, T, d], projected by
    /// <see cref="OutputProjection"/> only at the target positions (see <see cref="NextTokenLoss.Compute(Tensor, Tensor, Func{Tensor, Tensor})"/>).
    /// Saves the output head on prompts, padding and nodes without targets (incorrect ones).
    /// </summary>
    public Tensor? HiddenStates { get; init; }

    /// <summary>The output head that turns rows of <see cref="HiddenStates"/> [K, d] into logits [K, V].</summary>
    public Func<Tensor, Tensor>? OutputProjection { get; init; }

    /// <summary>Next-token labels [B, T] aligned with <see cref="Logits"/> or <see cref="HiddenStates"/> (see <see cref="NextTokenLoss.BuildLabels"/>).</summary>
    public Tensor? Labels { get; init; }

    /// <summary>Pooled representations [RealNodeCount, d] of every real node, from the student's live hidden states.</summary>
    public Tensor? NodeRepresentations { get; init; }

    /// <summary>The MAGs of the batch with their edges and node labels (<see cref="NodeLabels.Correct"/>/<see cref="NodeLabels.Incorrect"/>).</summary>
    public GraphBatch? Graphs { get; init; }

    /// <summary>
    /// Precomputed node features [RealNodeCount, d'] for <see cref="NodeFeatureSource.Frozen"/> (used detached); when null
    /// the frozen mode uses <see cref="NodeRepresentations"/> detached.
    /// </summary>
    public Tensor? FrozenNodeFeatures { get; init; }

    /// <summary>
    /// The student's hidden states of each MAG's linearised interaction and every real node's span in it: the input of the
    /// token-attention graph head (<see cref="GraphHeadKind.TokenAttention"/>); other heads ignore it.
    /// </summary>
    public LinearizedGraphStates? Tokens { get; init; }

    /// <summary>Random source for pairing; null uses the objective's own, seeded from <see cref="MagDiObjectiveOptions.Seed"/>.</summary>
    public Random? PairingRandom { get; init; }

    /// <summary>
    /// Explicit (positive, negative) pairs as rows of <see cref="NodeRepresentations"/>; null (default) forms them inside each
    /// graph of <see cref="Graphs"/> with <see cref="MagDiObjectiveOptions.Pairing"/>. With explicit pairs the representations
    /// may have any number of rows (for example the positive and the negative rows of the released code's pair rows), and
    /// the node loss then needs <see cref="FrozenNodeFeatures"/> unless the rows are exactly the graphs' real nodes.
    /// </summary>
    public IReadOnlyList<(int Positive, int Negative)>? Pairs { get; init; }
}
