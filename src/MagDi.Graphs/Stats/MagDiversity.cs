namespace MagDi.Graphs;

/// <summary>
/// How different the chains of a MAG corpus are from one another: what multi-teacher distillation can learn beyond one
/// teacher depends on the teachers not writing the same thing.
/// </summary>
public sealed class MagDiversity
{
    internal MagDiversity(int graphs, double distinctCorrectChainsPerGraph, double correctChainsPerGraph, double crossTeacherOverlap, double identicalCrossTeacherShare, int crossTeacherPairs, double revisedCopyShare, int changedAnswers)
    {
        Graphs = graphs;
        DistinctCorrectChainsPerGraph = distinctCorrectChainsPerGraph;
        CorrectChainsPerGraph = correctChainsPerGraph;
        CrossTeacherOverlap = crossTeacherOverlap;
        IdenticalCrossTeacherShare = identicalCrossTeacherShare;
        CrossTeacherPairs = crossTeacherPairs;
        RevisedCopyShare = revisedCopyShare;
        ChangedAnswers = changedAnswers;
    }

    /// <summary>MAGs measured.</summary>
    public int Graphs { get; }

    /// <summary>Mean number of distinct correct reasoning texts per MAG (all rounds).</summary>
    public double DistinctCorrectChainsPerGraph { get; }

    /// <summary>Mean number of correct nodes per MAG (all rounds), for scale.</summary>
    public double CorrectChainsPerGraph { get; }

    /// <summary>Mean word-bigram Jaccard similarity between two different teachers' correct round-0 chains of the same question (1 = the same wording, 0 = no two consecutive words in common); NaN when no question has two such chains.</summary>
    public double CrossTeacherOverlap { get; }

    /// <summary>Share of those pairs whose reasoning texts are identical.</summary>
    public double IdenticalCrossTeacherShare { get; }

    /// <summary>Pairs the overlap was measured on.</summary>
    public int CrossTeacherPairs { get; }

    /// <summary>Share of changed answers (a node whose answer differs from the same agent's previous round) whose reasoning is identical to a reasoning of the previous round (a copied chain rather than a new derivation); NaN when no answer changed.</summary>
    public double RevisedCopyShare { get; }

    /// <summary>Changed answers seen.</summary>
    public int ChangedAnswers { get; }

    /// <summary>Measures <paramref name="graphs"/>.</summary>
    public static MagDiversity Compute(IEnumerable<InteractionGraph> graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        int count = 0, pairs = 0, identical = 0, changed = 0, copies = 0;
        double distinct = 0, correct = 0, overlap = 0;
        foreach (InteractionGraph g in graphs)
        {
            count++;
            var correctNodes = g.Nodes.Where(n => n.IsValid && n.IsCorrect).ToList();
            correct += correctNodes.Count;
            distinct += correctNodes.Select(n => n.Reasoning.Trim()).Distinct(StringComparer.Ordinal).Count();

            var round0 = g.NodesInRound(0).Where(n => n.IsValid && n.IsCorrect).ToList();
            for (int i = 0; i < round0.Count; i++)
            {
                for (int j = i + 1; j < round0.Count; j++)
                {
                    if (string.Equals(round0[i].Agent, round0[j].Agent, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    pairs++;
                    overlap += BigramJaccard(round0[i].Reasoning, round0[j].Reasoning);
                    identical += string.Equals(round0[i].Reasoning.Trim(), round0[j].Reasoning.Trim(), StringComparison.Ordinal) ? 1 : 0;
                }
            }

            for (int round = 1; round < g.RoundCount; round++)
            {
                var previous = g.NodesInRound(round - 1).ToList();
                foreach (MagNode node in g.NodesInRound(round).Where(n => n.IsValid))
                {
                    MagNode? before = previous.FirstOrDefault(p => string.Equals(p.Agent, node.Agent, StringComparison.Ordinal));
                    if (before is null || !before.IsValid || string.Equals(before.Answer?.Trim(), node.Answer?.Trim(), StringComparison.OrdinalIgnoreCase))
                    {
                        continue;
                    }

                    changed++;
                    copies += previous.Any(p => string.Equals(p.Reasoning.Trim(), node.Reasoning.Trim(), StringComparison.Ordinal)) ? 1 : 0;
                }
            }
        }

        return new MagDiversity(
            count,
            count == 0 ? 0 : distinct / count,
            count == 0 ? 0 : correct / count,
            pairs == 0 ? double.NaN : overlap / pairs,
            pairs == 0 ? double.NaN : (double)identical / pairs,
            pairs,
            changed == 0 ? double.NaN : (double)copies / changed,
            changed);
    }

    /// <summary>Jaccard similarity of the sets of consecutive lower-cased word pairs of two texts.</summary>
    internal static double BigramJaccard(string a, string b)
    {
        HashSet<string> x = Bigrams(a), y = Bigrams(b);
        if (x.Count == 0 && y.Count == 0)
        {
            return 1;
        }

        int common = x.Count(y.Contains);
        return (double)common / (x.Count + y.Count - common);
    }

    private static HashSet<string> Bigrams(string text)
    {
        string[] words = text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var set = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < words.Length; i++)
        {
            set.Add(words[i] + " " + words[i + 1]);
        }

        return set;
    }
}
