using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MagDi.Tasks;

namespace MagDi.Graphs;

/// <summary>Node counts and accuracy of one discussion round across a corpus.</summary>
public sealed class RoundStatistics
{
    internal RoundStatistics(int round, int nodes, int correct, int graphs, int agreeingGraphs)
    {
        Round = round;
        Nodes = nodes;
        Correct = correct;
        Graphs = graphs;
        AgreeingGraphs = agreeingGraphs;
    }

    /// <summary>The round (0 = pre-interaction).</summary>
    public int Round { get; }

    /// <summary>Nodes in this round.</summary>
    public int Nodes { get; }

    /// <summary>Correct nodes in this round.</summary>
    public int Correct { get; }

    /// <summary>Graphs that reached this round.</summary>
    public int Graphs { get; }

    /// <summary>Graphs whose nodes in this round all give the same (normalised) answer.</summary>
    public int AgreeingGraphs { get; }

    /// <summary>Incorrect nodes in this round.</summary>
    public int Incorrect => Nodes - Correct;

    /// <summary>Correct / nodes.</summary>
    public double Accuracy => Nodes == 0 ? 0 : (double)Correct / Nodes;

    /// <summary>Agreeing graphs / graphs: how often the agents agree in this round.</summary>
    public double Agreement => Graphs == 0 ? 0 : (double)AgreeingGraphs / Graphs;
}

/// <summary>Node counts and accuracy of one agent in one round.</summary>
public sealed class AgentRoundStatistics
{
    internal AgentRoundStatistics(int round, int nodes, int correct)
    {
        Round = round;
        Nodes = nodes;
        Correct = correct;
    }

    /// <summary>The round.</summary>
    public int Round { get; }

    /// <summary>The agent's nodes in this round.</summary>
    public int Nodes { get; }

    /// <summary>Of which correct.</summary>
    public int Correct { get; }

    /// <summary>Correct / nodes.</summary>
    public double Accuracy => Nodes == 0 ? 0 : (double)Correct / Nodes;
}

/// <summary>Node counts and accuracy of one agent across a corpus.</summary>
public sealed class AgentStatistics
{
    internal AgentStatistics(string agent, int nodes, int correct, IReadOnlyList<AgentRoundStatistics> rounds)
    {
        Agent = agent;
        Nodes = nodes;
        Correct = correct;
        Rounds = rounds;
    }

    /// <summary>The agent name.</summary>
    public string Agent { get; }

    /// <summary>The agent's nodes.</summary>
    public int Nodes { get; }

    /// <summary>Of which correct.</summary>
    public int Correct { get; }

    /// <summary>The agent's nodes and accuracy per round.</summary>
    public IReadOnlyList<AgentRoundStatistics> Rounds { get; }

    /// <summary>Incorrect nodes.</summary>
    public int Incorrect => Nodes - Correct;

    /// <summary>Correct / nodes.</summary>
    public double Accuracy => Nodes == 0 ? 0 : (double)Correct / Nodes;
}

/// <summary>How many graphs have a given type G_k.</summary>
public sealed class GraphTypeStatistics
{
    internal GraphTypeStatistics(int interactionRounds, int graphs, int nodes)
    {
        InteractionRounds = interactionRounds;
        Graphs = graphs;
        Nodes = nodes;
    }

    /// <summary>k: the number of interaction rounds after round 0.</summary>
    public int InteractionRounds { get; }

    /// <summary>Graphs of this type.</summary>
    public int Graphs { get; }

    /// <summary>Their nodes.</summary>
    public int Nodes { get; }

    /// <summary>The type's name, <c>G0</c>..<c>Gk</c>.</summary>
    public string Name => "G" + InteractionRounds.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Corpus statistics in the style of the paper's Table 12: nodes per round, per agent and per graph type,
/// correct and incorrect counts, agreement per round, and answer accuracy per agent and round.
/// </summary>
public sealed class MagStatistics
{
    internal MagStatistics(int graphs, int nodes, int correct, int invalid, int edges, IReadOnlyDictionary<string, int> tasks, IReadOnlyList<RoundStatistics> rounds, IReadOnlyList<AgentStatistics> agents, IReadOnlyList<GraphTypeStatistics> graphTypes)
    {
        Graphs = graphs;
        Nodes = nodes;
        Correct = correct;
        Invalid = invalid;
        Edges = edges;
        Tasks = tasks;
        Rounds = rounds;
        Agents = agents;
        GraphTypes = graphTypes;
    }

    /// <summary>The number of graphs.</summary>
    public int Graphs { get; }

    /// <summary>The number of nodes.</summary>
    public int Nodes { get; }

    /// <summary>Correct nodes.</summary>
    public int Correct { get; }

    /// <summary>Nodes whose reply could not be parsed.</summary>
    public int Invalid { get; }

    /// <summary>Edges under each graph's pattern.</summary>
    public int Edges { get; }

    /// <summary>Graph counts per task.</summary>
    public IReadOnlyDictionary<string, int> Tasks { get; }

    /// <summary>Per round, in order.</summary>
    public IReadOnlyList<RoundStatistics> Rounds { get; }

    /// <summary>Per agent, in order of first appearance.</summary>
    public IReadOnlyList<AgentStatistics> Agents { get; }

    /// <summary>Per graph type, by k.</summary>
    public IReadOnlyList<GraphTypeStatistics> GraphTypes { get; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Incorrect nodes (invalid ones included).</summary>
    public int Incorrect => Nodes - Correct;

    /// <summary>Correct / nodes.</summary>
    public double Accuracy => Nodes == 0 ? 0 : (double)Correct / Nodes;

    /// <summary>Computes the statistics of a corpus in one pass.</summary>
    /// <param name="graphs">The graphs.</param>
    /// <returns>The statistics.</returns>
    public static MagStatistics Compute(IEnumerable<InteractionGraph> graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var b = new MagStatisticsBuilder();
        foreach (var g in graphs)
        {
            b.Add(g);
        }

        return b.Build();
    }

    /// <summary>The statistics as indented JSON with snake_case names (derived rates included).</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The statistics as Markdown tables (rounds, agents, graph types).</summary>
    /// <returns>The Markdown text.</returns>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"{Graphs} graphs, {Nodes} nodes ({Correct} correct, {Incorrect} incorrect, {Invalid} invalid), {Edges} edges.\n\n");
        sb.Append("| Round | Nodes | Correct | Incorrect | Accuracy | Graphs | Agreement |\n|---|---|---|---|---|---|---|\n");
        foreach (var r in Rounds)
        {
            sb.Append(c, $"| {r.Round} | {r.Nodes} | {r.Correct} | {r.Incorrect} | {r.Accuracy:P1} | {r.Graphs} | {r.Agreement:P1} |\n");
        }

        var maxRound = Rounds.Count;
        sb.Append("\n| Agent | Nodes | Correct | Incorrect | Accuracy |");
        for (var r = 0; r < maxRound; r++)
        {
            sb.Append(c, $" Round {r} |");
        }

        sb.Append("\n|---|---|---|---|---|").Append(string.Concat(Enumerable.Repeat("---|", maxRound))).Append('\n');
        foreach (var a in Agents)
        {
            sb.Append(c, $"| {a.Agent} | {a.Nodes} | {a.Correct} | {a.Incorrect} | {a.Accuracy:P1} |");
            for (var r = 0; r < maxRound; r++)
            {
                var cell = r < a.Rounds.Count ? a.Rounds[r] : null; // indexed by round: no quadratic search
                sb.Append(cell is null || cell.Nodes == 0 ? " - |" : string.Create(c, $" {cell.Accuracy:P1} ({cell.Nodes}) |"));
            }

            sb.Append('\n');
        }

        sb.Append("\n| Graph type | Graphs | Nodes |\n|---|---|---|\n");
        foreach (var t in GraphTypes)
        {
            sb.Append(c, $"| {t.Name} | {t.Graphs} | {t.Nodes} |\n");
        }

        return sb.ToString();
    }
}

/// <summary>Accumulates <see cref="MagStatistics"/> one graph at a time, so a corpus can be streamed with constant memory.</summary>
public sealed class MagStatisticsBuilder
{
    private readonly Dictionary<string, int> _tasks = new(StringComparer.Ordinal);
    private readonly List<int[]> _rounds = []; // nodes, correct, graphs, agreeing
    private readonly List<string> _agentOrder = [];
    private readonly Dictionary<string, List<int[]>> _agentRounds = new(StringComparer.Ordinal); // per round: nodes, correct
    private readonly SortedDictionary<int, int[]> _types = []; // graphs, nodes
    private int _graphs;
    private int _nodes;
    private int _correct;
    private int _invalid;
    private int _edges;

    /// <summary>Adds one graph.</summary>
    /// <param name="graph">The graph.</param>
    /// <returns>This builder.</returns>
    public MagStatisticsBuilder Add(InteractionGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        _graphs++;
        _edges += graph.Edges.Count;
        _tasks[graph.Task] = _tasks.GetValueOrDefault(graph.Task) + 1;
        ReasoningTasks.TryGet(graph.Task, out var task);
        if (!_types.TryGetValue(graph.InteractionRounds, out var type))
        {
            _types[graph.InteractionRounds] = type = new int[2];
        }

        type[0]++;
        type[1] += graph.Nodes.Count;
        for (var r = 0; r < graph.RoundCount; r++)
        {
            while (_rounds.Count <= r)
            {
                _rounds.Add(new int[4]);
            }

            var answers = new HashSet<string?>(StringComparer.Ordinal);
            var count = 0;
            foreach (var n in graph.NodesInRound(r))
            {
                count++;
                answers.Add(n.IsValid ? (task?.Normalize(n.Answer) ?? n.Answer?.Trim()) : "\u0000invalid" + count.ToString(CultureInfo.InvariantCulture));
            }

            _rounds[r][2]++;
            if (count > 0 && answers.Count == 1)
            {
                _rounds[r][3]++;
            }
        }

        foreach (var n in graph.Nodes)
        {
            _nodes++;
            var correct = n.IsCorrect ? 1 : 0;
            _correct += correct;
            _invalid += n.IsValid ? 0 : 1;
            _rounds[n.Round][0]++;
            _rounds[n.Round][1] += correct;
            if (!_agentRounds.TryGetValue(n.Agent, out var perRound))
            {
                _agentRounds[n.Agent] = perRound = [];
                _agentOrder.Add(n.Agent);
            }

            while (perRound.Count <= n.Round)
            {
                perRound.Add(new int[2]);
            }

            perRound[n.Round][0]++;
            perRound[n.Round][1] += correct;
        }

        return this;
    }

    /// <summary>Creates the statistics of everything added so far.</summary>
    /// <returns>The statistics.</returns>
    public MagStatistics Build() => new(
        _graphs,
        _nodes,
        _correct,
        _invalid,
        _edges,
        new SortedDictionary<string, int>(_tasks, StringComparer.Ordinal),
        _rounds.Select((r, i) => new RoundStatistics(i, r[0], r[1], r[2], r[3])).ToArray(),
        _agentOrder.Select(a =>
        {
            var per = _agentRounds[a];
            return new AgentStatistics(a, per.Sum(x => x[0]), per.Sum(x => x[1]), per.Select((x, i) => new AgentRoundStatistics(i, x[0], x[1])).ToArray());
        }).ToArray(),
        _types.Select(t => new GraphTypeStatistics(t.Key, t.Value[0], t.Value[1])).ToArray());
}
