namespace MagDi.Losses;

/// <summary>
/// Forms (positive, negative) pairs of node indices inside one MAG for the margin-ranking loss. Works on plain indices, so
/// pairing costs nothing next to encoding, and the scores of each node are computed once however many pairs it is in.
/// </summary>
/// <remarks>Every strategy returns no pair when either group is empty.</remarks>
public abstract class PairingStrategy
{
    /// <summary>
    /// The paper's appendix A: pair one to one in order, then pair every leftover node of the majority group with a
    /// node drawn uniformly from the minority group (5 positives, 3 negatives: 3 pairs in order, 2 with random negatives).
    /// max(P, N) pairs.
    /// </summary>
    public static PairingStrategy Paper { get; } = new PaperPairing();

    /// <summary>
    /// The released code: pair one to one and repeat the smaller group cyclically to the size of the larger
    /// (pair i = (positives[i mod P], negatives[i mod N])). max(P, N) pairs, no randomness.
    /// </summary>
    public static PairingStrategy Cyclic { get; } = new CyclicPairing();

    /// <summary>Every positive with every negative, the literal sum of equation 2. P·N pairs, no randomness.</summary>
    public static PairingStrategy AllPairs { get; } = new AllPairing();

    /// <summary>The built-in strategy named by <paramref name="kind"/>.</summary>
    /// <param name="kind">The strategy's name.</param>
    /// <returns>The strategy.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined value.</exception>
    public static PairingStrategy FromKind(PairingStrategyKind kind) => kind switch
    {
        PairingStrategyKind.Paper => Paper,
        PairingStrategyKind.Cyclic => Cyclic,
        PairingStrategyKind.AllPairs => AllPairs,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Not a PairingStrategyKind; use {string.Join(", ", Enum.GetNames<PairingStrategyKind>())}."),
    };

    /// <summary>Short name of the strategy (<c>paper</c>, <c>cyclic</c>, <c>all-pairs</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Pairs the positive (correct) and negative (incorrect) nodes of one MAG.</summary>
    /// <param name="positives">Indices of the correct nodes.</param>
    /// <param name="negatives">Indices of the incorrect nodes.</param>
    /// <param name="rng">Random source for strategies that sample (seed it for reproducible pairs).</param>
    /// <returns>The pairs, in a deterministic order for a given <paramref name="rng"/> state.</returns>
    public IReadOnlyList<(int Positive, int Negative)> Pair(IReadOnlyList<int> positives, IReadOnlyList<int> negatives, Random rng)
    {
        ArgumentNullException.ThrowIfNull(positives);
        ArgumentNullException.ThrowIfNull(negatives);
        ArgumentNullException.ThrowIfNull(rng);
        if (positives.Count == 0 || negatives.Count == 0)
        {
            return [];
        }

        return PairCore(positives, negatives, rng);
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Pairs two non-empty groups.</summary>
    private protected abstract IReadOnlyList<(int Positive, int Negative)> PairCore(IReadOnlyList<int> positives, IReadOnlyList<int> negatives, Random rng);

    private sealed class PaperPairing : PairingStrategy
    {
        public override string Name => "paper";

        private protected override IReadOnlyList<(int Positive, int Negative)> PairCore(IReadOnlyList<int> positives, IReadOnlyList<int> negatives, Random rng)
        {
            int common = Math.Min(positives.Count, negatives.Count);
            var pairs = new List<(int, int)>(Math.Max(positives.Count, negatives.Count));
            for (int i = 0; i < common; i++)
            {
                pairs.Add((positives[i], negatives[i]));
            }

            for (int i = common; i < positives.Count; i++)
            {
                pairs.Add((positives[i], negatives[rng.Next(negatives.Count)]));
            }

            for (int i = common; i < negatives.Count; i++)
            {
                pairs.Add((positives[rng.Next(positives.Count)], negatives[i]));
            }

            return pairs;
        }
    }

    private sealed class CyclicPairing : PairingStrategy
    {
        public override string Name => "cyclic";

        private protected override IReadOnlyList<(int Positive, int Negative)> PairCore(IReadOnlyList<int> positives, IReadOnlyList<int> negatives, Random rng)
        {
            int count = Math.Max(positives.Count, negatives.Count);
            var pairs = new List<(int, int)>(count);
            for (int i = 0; i < count; i++)
            {
                pairs.Add((positives[i % positives.Count], negatives[i % negatives.Count]));
            }

            return pairs;
        }
    }

    private sealed class AllPairing : PairingStrategy
    {
        public override string Name => "all-pairs";

        private protected override IReadOnlyList<(int Positive, int Negative)> PairCore(IReadOnlyList<int> positives, IReadOnlyList<int> negatives, Random rng)
        {
            var pairs = new List<(int, int)>(positives.Count * negatives.Count);
            foreach (int p in positives)
            {
                foreach (int n in negatives)
                {
                    pairs.Add((p, n));
                }
            }

            return pairs;
        }
    }
}
