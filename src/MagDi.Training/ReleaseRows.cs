using MagDi.Graphs;
using MagDi.Graphs.Gcn;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>
/// The released code's fixed graph layout: 12 node slots, agent-major (agent a's round r is slot 4a + r), and one edge list
/// for every MAG. Its 27 round-j -> round-j+1 edges are written as (smaller slot, larger slot), so 9 of them point backwards
/// in time (4->1, 5->2, 6->3, 8->1, 8->5, 9->2, 9->6, 10->3, 10->7 are written 1->4, 2->5, ...); messages flow from the
/// first slot to the second, as in PyTorch Geometric, and that is kept here.
/// </summary>
internal static class ReleaseTemplate
{
    public const int Agents = 3;
    public const int Rounds = 4;
    public const int NodeCount = Agents * Rounds;

    /// <summary>The release's edge list, (source, target) as written there.</summary>
    public static IReadOnlyList<(int Source, int Target)> Edges { get; } =
    [
        (0, 1), (1, 2), (2, 3),
        (4, 5), (5, 6), (6, 7),
        (8, 9), (9, 10), (10, 11),
        (0, 5), (5, 8),
        (1, 4), (1, 8),
        (0, 9), (4, 9),
        (2, 5), (2, 9),
        (1, 6), (6, 9),
        (1, 10), (5, 10),
        (3, 6), (3, 10),
        (2, 7), (7, 10),
        (2, 11), (6, 11),
    ];

    /// <summary>The release's agent order (claude, gpt4, bard; ReConcile's raw output names the ChatGPT agent gpt3).</summary>
    private static readonly string[][] KnownOrder = [["claude"], ["gpt4", "gpt3", "chatgpt"], ["bard"]];

    /// <summary>
    /// The slot of each agent of <paramref name="graph"/>: the release's own agents take its order (claude 0, gpt4 1, bard 2);
    /// other agents fill the free slots in the MAG's order of first appearance.
    /// </summary>
    public static Dictionary<string, int> AgentSlots(InteractionGraph graph)
    {
        var slots = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var free = new List<int>();
        for (int a = 0; a < Agents; a++)
        {
            string? known = graph.Agents.FirstOrDefault(x => KnownOrder[a].Contains(x, StringComparer.OrdinalIgnoreCase));
            if (known is not null && !slots.ContainsKey(known))
            {
                slots[known] = a;
            }
            else
            {
                free.Add(a);
            }
        }

        foreach (string agent in graph.Agents.Where(x => !slots.ContainsKey(x)))
        {
            if (free.Count == 0)
            {
                break;
            }

            slots[agent] = free[0];
            free.RemoveAt(0);
        }

        return slots;
    }

    /// <summary>Why <paramref name="graph"/> does not fit the template, or null when it does.</summary>
    public static string? Problem(InteractionGraph graph)
    {
        if (graph.Agents.Count > Agents)
        {
            return $"MAG '{graph.Id}' has {graph.Agents.Count} agents ({string.Join(", ", graph.Agents)}); the release's 12-node template holds {Agents}.";
        }

        int maxRound = graph.Nodes.Count == 0 ? 0 : graph.Nodes.Max(n => n.Round);
        return maxRound >= Rounds
            ? $"MAG '{graph.Id}' has round {maxRound}; the release's 12-node template holds rounds 0 to {Rounds - 1}."
            : null;
    }
}

/// <summary>A MAG laid out on the release's template: 12 slots with their tokenised texts and the 3-class graph.</summary>
/// <param name="Graph">The 12-node graph: the release's edges, labels 1 correct, 0 incorrect, 2 missing.</param>
/// <param name="SlotIds">Token ids of every slot's text: the node's text, or the release's placeholder for a missing node.</param>
internal sealed record ReleaseLayout(GraphSample Graph, int[][] SlotIds);

/// <summary>One of the release's training rows: a positive chain, a negative chain (or the placeholder) and the MAG's layout.</summary>
/// <param name="Layout">The MAG's 12-node layout (its graph feeds the node loss; every row carries its own MAG's graph).</param>
/// <param name="PlaceholderNegative">The negative is the release's "NA" placeholder (the MAG has no incorrect node).</param>
internal sealed record ReleaseRow(ReleaseLayout Layout, bool PlaceholderNegative);

/// <summary>
/// Forms the released code's training rows from prepared MAGs (see docs/training.md, "Paper and Release presets"): inside a
/// MAG, positives and negatives in slot order are paired one to one and the smaller group repeats cyclically; a MAG with no
/// correct node gives no row, one with no incorrect node pairs every positive with the placeholder negative "NA".
/// </summary>
internal static class ReleaseRows
{
    /// <summary>The placeholder negative's text in the release.</summary>
    public const string PlaceholderNegativeText = "NA";

    /// <summary>The reasoning of a missing node's placeholder text in the release (its answer repeats the previous slot's).</summary>
    public const string PlaceholderReasoning = "None";

    /// <summary>
    /// The release's rows of every MAG, in MAG order. A row travels as a <see cref="PreparedGraph"/> holding its two chains
    /// (positive first) and its <see cref="ReleaseRow"/>; <paramref name="layouts"/> receives every MAG's layout, rows or not
    /// (the frozen node features are computed over all of them, as the release does).
    /// </summary>
    public static List<PreparedGraph> Expand(
        IReadOnlyList<PreparedGraph> graphs,
        ITextTokenizer tokenizer,
        MagDiPromptTemplate template,
        bool stripAgreementSentences,
        out List<(InteractionGraph Graph, ReleaseLayout Layout)> layouts)
    {
        var rows = new List<PreparedGraph>();
        layouts = new List<(InteractionGraph, ReleaseLayout)>(graphs.Count);
        int[] placeholder = Placeholder(tokenizer);
        foreach (PreparedGraph g in graphs)
        {
            Dictionary<string, int> agentSlots = ReleaseTemplate.AgentSlots(g.Graph);
            int Slot(PreparedNode n) => (agentSlots[n.Node.Agent] * ReleaseTemplate.Rounds) + n.Node.Round;
            var bySlot = g.Nodes.ToDictionary(Slot);
            ReleaseLayout layout = Layout(g.Graph, bySlot, tokenizer, template, stripAgreementSentences);
            layouts.Add((g.Graph, layout));

            List<PreparedNode> positives = [.. g.Nodes.Where(n => n.IsCorrect).OrderBy(Slot)];
            List<PreparedNode> negatives = [.. g.Nodes.Where(n => !n.IsCorrect).OrderBy(Slot)];
            if (positives.Count == 0)
            {
                continue;
            }

            bool placeholderNegative = negatives.Count == 0;
            if (placeholderNegative)
            {
                negatives.Add(new PreparedNode(-1, positives[0].Node, placeholder, 0));
            }

            var row = new ReleaseRow(layout, placeholderNegative);
            int count = Math.Max(positives.Count, negatives.Count);
            for (int i = 0; i < count; i++)
            {
                rows.Add(new PreparedGraph(g.Graph, [positives[i % positives.Count], negatives[i % negatives.Count]], [], []) { Release = row });
            }
        }

        return rows;
    }

    /// <summary>The tokens of the placeholder negative: the release tokenises the bare text "NA" with BOS and EOS.</summary>
    internal static int[] Placeholder(ITextTokenizer tokenizer)
    {
        var ids = new List<int>();
        if (tokenizer.Special.AddBosToken && tokenizer.Special.BosId is int bos)
        {
            ids.Add(bos);
        }

        ids.AddRange(tokenizer.Encode(PlaceholderNegativeText));
        if (tokenizer.Special.EosId is int eos)
        {
            ids.Add(eos);
        }

        return [.. ids];
    }

    private static ReleaseLayout Layout(
        InteractionGraph graph, Dictionary<int, PreparedNode> bySlot, ITextTokenizer tokenizer, MagDiPromptTemplate template, bool strip)
    {
        ReasoningTask task = ReasoningTasks.Get(graph.Task);
        Question question = graph.ToQuestion();
        var labels = new int[ReleaseTemplate.NodeCount];
        var ids = new int[ReleaseTemplate.NodeCount][];
        string? carried = null; // the release renders a missing node with the answer of the slot before it
        for (int slot = 0; slot < ReleaseTemplate.NodeCount; slot++)
        {
            if (bySlot.TryGetValue(slot, out PreparedNode? node))
            {
                labels[slot] = node.IsCorrect ? NodeLabels.Correct : NodeLabels.Incorrect;
                ids[slot] = node.Ids;
                carried = node.Node.Answer;
            }
            else
            {
                labels[slot] = NodeLabels.Missing;
                RenderedExample text = template.RenderNode(task, question, PlaceholderReasoning, carried, strip);
                ids[slot] = [.. tokenizer.TokenizeExample(text, appendEos: true).Ids];
            }
        }

        var sample = new GraphSample(
            ReleaseTemplate.NodeCount,
            ReleaseTemplate.Edges.Select(e => e.Source).ToArray(),
            ReleaseTemplate.Edges.Select(e => e.Target).ToArray(),
            labels);
        return new ReleaseLayout(sample, ids);
    }
}
