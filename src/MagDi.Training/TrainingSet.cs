using MagDi.Graphs;
using MagDi.Graphs.Gcn;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>One node selected for training, tokenised.</summary>
internal sealed record PreparedNode(int NodeIndex, MagNode Node, int[] Ids, int PromptLength)
{
    public bool IsCorrect => Node.IsCorrect;
}

/// <summary>A MAG's selected nodes and the edges among them (re-indexed to the selection).</summary>
internal sealed record PreparedGraph(InteractionGraph Graph, IReadOnlyList<PreparedNode> Nodes, int[] Sources, int[] Targets)
{
    public GraphSample ToSample() => new(
        Nodes.Count,
        Sources,
        Targets,
        Nodes.Select(n => n.IsCorrect ? NodeLabels.Correct : NodeLabels.Incorrect).ToArray());

    public long TokenCount => Nodes.Sum(n => (long)n.Ids.Length);
}

/// <summary>What was selected from the training MAGs and why anything was left out.</summary>
/// <param name="Graphs">MAGs given.</param>
/// <param name="GraphsUsed">MAGs with at least one selected node.</param>
/// <param name="NodesGiven">Nodes in all MAGs.</param>
/// <param name="NodesUsed">Nodes selected for training.</param>
/// <param name="CorrectNodesUsed">Selected nodes labelled correct.</param>
/// <param name="InvalidNodesExcluded">Nodes whose teacher reply could not be parsed (never trained on).</param>
/// <param name="NodesExcludedByLevel">Valid nodes the level or the single-teacher filter does not use.</param>
/// <param name="GraphsWithoutSelectedNodes">Ids of MAGs that contributed nothing (for example no correct round-0 node at level 1).</param>
public sealed record TrainingDataSummary(
    int Graphs,
    int GraphsUsed,
    int NodesGiven,
    int NodesUsed,
    int CorrectNodesUsed,
    int InvalidNodesExcluded,
    int NodesExcludedByLevel,
    IReadOnlyList<string> GraphsWithoutSelectedNodes);

/// <summary>Selects and tokenises training nodes for a distillation level.</summary>
internal static class TrainingSet
{
    public static (List<PreparedGraph> Graphs, TrainingDataSummary Summary) Prepare(
        IReadOnlyList<InteractionGraph> graphs,
        MagDiTrainingOptions options,
        ITextTokenizer tokenizer,
        MagDiPromptTemplate template,
        int maxSequenceLength,
        string role)
    {
        var prepared = new List<PreparedGraph>(graphs.Count);
        var empty = new List<string>();
        int nodesGiven = 0, invalid = 0, excluded = 0, used = 0, correctUsed = 0;
        var tooLong = new List<string>();      // MAG ids, one per node
        var tooLongNodes = new List<string>(); // one description per node
        for (int g = 0; g < graphs.Count; g++)
        {
            InteractionGraph graph = graphs[g];
            ReasoningTask task = ReasoningTasks.Get(graph.Task);
            Question question = graph.ToQuestion();
            var nodes = new List<PreparedNode>();
            var map = new Dictionary<int, int>();
            for (int i = 0; i < graph.Nodes.Count; i++)
            {
                MagNode node = graph.Nodes[i];
                nodesGiven++;
                if (!node.IsValid)
                {
                    invalid++;
                    continue;
                }

                if (!Selects(options, node))
                {
                    excluded++;
                    continue;
                }

                TokenizedExample tokens;
                try
                {
                    RenderedExample example = template.RenderNode(task, question, node.Reasoning, node.Answer, options.StripAgreementSentences);
                    tokens = tokenizer.TokenizeExample(example, appendEos: true);
                }
                catch (InvalidOperationException e)
                {
                    // The prompt format or the tokenizer cannot render this node (a missing special token, a prompt/target
                    // boundary inside a token): bad data or configuration, named here, never a bug.
                    throw new TrainingDataException($"{role} MAG '{graph.Id}' node {node.Agent}/round {node.Round}: {e.Message}", e) { GraphIds = [graph.Id] };
                }

                if (tokens.Ids.Count > maxSequenceLength)
                {
                    tooLong.Add(graph.Id);
                    tooLongNodes.Add($"MAG '{graph.Id}' node {node.Agent}/round {node.Round}: {tokens.Ids.Count} tokens");
                    continue;
                }

                map[i] = nodes.Count;
                nodes.Add(new PreparedNode(i, node, [.. tokens.Ids], tokens.PromptLength));
            }

            if (tooLong.Count > 0)
            {
                continue;
            }

            if (nodes.Count == 0)
            {
                empty.Add(graph.Id);
                continue;
            }

            var sources = new List<int>();
            var targets = new List<int>();
            foreach (var (s, t) in graph.Edges.Pairs)
            {
                if (map.TryGetValue(s, out int ms) && map.TryGetValue(t, out int mt))
                {
                    sources.Add(ms);
                    targets.Add(mt);
                }
            }

            used += nodes.Count;
            correctUsed += nodes.Count(n => n.IsCorrect);
            prepared.Add(new PreparedGraph(graph, nodes, [.. sources], [.. targets]));
        }

        if (tooLong.Count > 0)
        {
            throw new TrainingDataException(
                $"{tooLongNodes.Count} {role} node(s) are longer than the maximum sequence length {maxSequenceLength} " +
                $"(MaxSequenceLength or the model's max_position_embeddings): {string.Join("; ", tooLongNodes.Take(10))}" +
                (tooLongNodes.Count > 10 ? $"; and {tooLongNodes.Count - 10} more." : "."))
            {
                GraphIds = [.. tooLong.Distinct(StringComparer.Ordinal).Take(10)],
            };
        }

        var summary = new TrainingDataSummary(graphs.Count, prepared.Count, nodesGiven, used, correctUsed, invalid, excluded, empty);
        return (prepared, summary);
    }

    internal static bool Selects(MagDiTrainingOptions options, MagNode node)
    {
        if (options.SingleTeacher is { } agent && !string.Equals(node.Agent, agent, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return options.Level switch
        {
            DistillationLevel.RoundZero => node.IsCorrect && node.Round == 0,
            DistillationLevel.CorrectNodes => node.IsCorrect,
            _ => true,
        };
    }
}
