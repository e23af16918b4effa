using MagDi.Graphs;
using MagDi.Graphs.Gcn;
using MagDi.Graphs.IO;
using MagDi.Losses;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>What a tokenised row teaches.</summary>
internal enum ExampleKind
{
    /// <summary>A MAGDi chain: prompt + reasoning + answer; next-token targets only on correct nodes.</summary>
    Chain,

    /// <summary>DSS-MT's label task: "[label]" prompt, the gold answer as target.</summary>
    Label,

    /// <summary>DSS-MT's rationale task: "[rationale]" prompt, the node's reasoning as target.</summary>
    Rationale,
}

/// <summary>One node selected for training, tokenised.</summary>
internal sealed record PreparedNode(int NodeIndex, MagNode Node, int[] Ids, int PromptLength, ExampleKind Kind = ExampleKind.Chain)
{
    public bool IsCorrect => Node.IsCorrect;

    /// <summary>Whether the row's targets are trained by a next-token loss (correct chains, and every DSS-MT row).</summary>
    public bool HasTargets => Kind != ExampleKind.Chain || Node.IsCorrect;
}

/// <summary>A MAG's selected nodes and the edges among them (re-indexed to the selection).</summary>
internal sealed record PreparedGraph(InteractionGraph Graph, IReadOnlyList<PreparedNode> Nodes, int[] Sources, int[] Targets)
{
    /// <summary>Set on the release's pair rows (<see cref="ReleaseRows"/>): Nodes are then (positive, negative).</summary>
    public ReleaseRow? Release { get; init; }

    public GraphSample ToSample() => new(
        Nodes.Count,
        Sources,
        Targets,
        Nodes.Select(n => n.IsCorrect ? NodeLabels.Correct : NodeLabels.Incorrect).ToArray());

    public long TokenCount => Nodes.Sum(n => (long)n.Ids.Length);
}

/// <summary>What was selected from the training MAGs and why anything was left out.</summary>
public sealed class TrainingDataSummary
{
    internal TrainingDataSummary(int graphs, int graphsUsed, int nodesGiven, int nodesUsed, int correctNodesUsed, int invalidNodesExcluded, int nodesExcludedByLevel, IReadOnlyList<string> graphsWithoutSelectedNodes)
    {
        Graphs = graphs;
        GraphsUsed = graphsUsed;
        NodesGiven = nodesGiven;
        NodesUsed = nodesUsed;
        CorrectNodesUsed = correctNodesUsed;
        InvalidNodesExcluded = invalidNodesExcluded;
        NodesExcludedByLevel = nodesExcludedByLevel;
        GraphsWithoutSelectedNodes = graphsWithoutSelectedNodes;
    }

    /// <summary>MAGs given.</summary>
    public int Graphs { get; }

    /// <summary>MAGs with at least one selected node.</summary>
    public int GraphsUsed { get; }

    /// <summary>Nodes in all MAGs.</summary>
    public int NodesGiven { get; }

    /// <summary>Nodes selected for training.</summary>
    public int NodesUsed { get; }

    /// <summary>Selected nodes labelled correct.</summary>
    public int CorrectNodesUsed { get; }

    /// <summary>Nodes whose teacher reply could not be parsed (never trained on).</summary>
    public int InvalidNodesExcluded { get; }

    /// <summary>Valid nodes the level or the single-teacher filter does not use.</summary>
    public int NodesExcludedByLevel { get; }

    /// <summary>Ids of MAGs that contributed nothing (for example no correct round-0 node at level 1).</summary>
    public IReadOnlyList<string> GraphsWithoutSelectedNodes { get; }
}

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

                bool stepByStep = options.Objective == DistillationObjective.StepByStep;
                foreach (var (kind, example) in Examples(options, template, task, question, graph, node))
                {
                    TokenizedExample tokens;
                    try
                    {
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
                        tooLongNodes.Add($"MAG '{graph.Id}' node {node.Agent}/round {node.Round}{(stepByStep ? " (" + kind.ToString().ToLowerInvariant() + " task)" : string.Empty)}: {tokens.Ids.Count} tokens");
                        continue;
                    }

                    if (kind == ExampleKind.Chain)
                    {
                        map[i] = nodes.Count;
                    }

                    nodes.Add(new PreparedNode(i, node, [.. tokens.Ids], tokens.PromptLength, kind));
                }
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

            used += nodes.Select(n => n.NodeIndex).Distinct().Count();
            correctUsed += nodes.Where(n => n.IsCorrect).Select(n => n.NodeIndex).Distinct().Count();
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

    /// <summary>
    /// The rows a selected node becomes: one MAGDi chain, or DSS-MT's two tasks. DSS-MT (Hsieh et al.'s setting with human
    /// labels) pairs the node's own rationale with the question's gold answer: the label task predicts the gold answer, the
    /// rationale task generates the teacher's reasoning, whatever answer it reached.
    /// </summary>
    private static IEnumerable<(ExampleKind Kind, RenderedExample Example)> Examples(
        MagDiTrainingOptions options, MagDiPromptTemplate template, ReasoningTask task, Question question, InteractionGraph graph, MagNode node)
    {
        if (options.Objective != DistillationObjective.StepByStep)
        {
            yield return (ExampleKind.Chain, template.RenderNode(task, question, node.Reasoning, node.Answer, options.StripAgreementSentences));
            yield break;
        }

        yield return (ExampleKind.Label, new RenderedExample(
            template.RenderPrompt(task, question, StepByStepLoss.LabelPrefix),
            MagDiPromptTemplate.RenderAnswer(graph.GoldAnswer)));
        string reasoning = options.StripAgreementSentences ? ReasoningCleaner.RemoveAgreementSentences(node.Reasoning) : node.Reasoning.Trim();
        yield return (ExampleKind.Rationale, new RenderedExample(
            template.RenderPrompt(task, question, StepByStepLoss.RationalePrefix),
            " " + reasoning));
    }

    internal static bool Selects(MagDiTrainingOptions options, MagNode node)
    {
        if (options.SingleTeacher is { } agent && !string.Equals(node.Agent, agent, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (options.Objective == DistillationObjective.StepByStep)
        {
            return true; // DSS-MT: every valid node of every teacher and round (the paper's "All Nodes")
        }

        return options.Level switch
        {
            DistillationLevel.RoundZero => node.IsCorrect && node.Round == 0,
            DistillationLevel.CorrectNodes => node.IsCorrect,
            _ => true,
        };
    }
}
