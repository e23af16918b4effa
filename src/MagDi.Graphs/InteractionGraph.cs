using MagDi.Tasks;

namespace MagDi.Graphs;

/// <summary>
/// A Multi-Agent Interaction Graph (MAG, paper section 3.3): one question discussed by several agents over
/// rounds, with one node per (agent, round) that spoke and edges from an <see cref="InteractionPattern"/>.
/// </summary>
/// <remarks>
/// Immutable. Nodes are ordered by round, then by the order of <see cref="Agents"/>; a node's index is its
/// position in <see cref="Nodes"/> and is the index used by <see cref="Edges"/>. A graph of type G_k has k
/// interaction rounds after round 0 (<see cref="InteractionRounds"/>), so 3, 6, 9 or 12 nodes for three agents
/// that all spoke. Create graphs with <see cref="CreateBuilder"/> or read them with the readers in
/// <c>MagDi.Graphs.IO</c>.
/// </remarks>
public sealed class InteractionGraph
{
    private readonly MagNode[] _nodes;
    private readonly string[] _agents;
    private readonly IReadOnlyList<MagNode> _nodesView;
    private readonly IReadOnlyList<string> _agentsView;

    internal InteractionGraph(
        string id,
        string task,
        string question,
        IReadOnlyList<AnswerChoice> choices,
        string goldAnswer,
        string[] agents,
        MagNode[] nodes,
        InteractionPattern pattern,
        GraphShape shape,
        EdgeIndex edges)
    {
        Id = id;
        Task = task;
        Question = question;
        Choices = choices;
        GoldAnswer = goldAnswer;
        _agents = agents;
        _nodes = nodes;
        _agentsView = Array.AsReadOnly(agents);
        _nodesView = Array.AsReadOnly(nodes);
        Pattern = pattern;
        Shape = shape;
        Edges = edges;
    }

    /// <summary>The question id.</summary>
    public string Id { get; }

    /// <summary>The canonical name of the <see cref="ReasoningTask"/> (for example <c>gsm8k</c>).</summary>
    public string Task { get; }

    /// <summary>The question text.</summary>
    public string Question { get; }

    /// <summary>The answer choices; empty when the task has none.</summary>
    public IReadOnlyList<AnswerChoice> Choices { get; }

    /// <summary>The gold answer.</summary>
    public string GoldAnswer { get; }

    /// <summary>The agents in the order that orders nodes within a round.</summary>
    public IReadOnlyList<string> Agents => _agentsView;

    /// <summary>The nodes, ordered by round then agent; a node's index is its position here.</summary>
    public IReadOnlyList<MagNode> Nodes => _nodesView;

    /// <summary>The number of rounds (round 0 included).</summary>
    public int RoundCount => Shape.RoundCount;

    /// <summary>The number of interaction rounds after round 0: k in the graph type G_k.</summary>
    public int InteractionRounds => RoundCount - 1;

    /// <summary>The interaction pattern that produced <see cref="Edges"/>.</summary>
    public InteractionPattern Pattern { get; }

    /// <summary>The (agent index, round) of each node, as seen by interaction patterns.</summary>
    public GraphShape Shape { get; }

    /// <summary>The directed edges in COO form, over node indices.</summary>
    public EdgeIndex Edges { get; }

    /// <summary>The nodes labelled correct.</summary>
    public IEnumerable<MagNode> CorrectNodes => _nodes.Where(n => n.IsCorrect);

    /// <summary>The nodes labelled incorrect (invalid nodes included).</summary>
    public IEnumerable<MagNode> IncorrectNodes => _nodes.Where(n => !n.IsCorrect);

    /// <summary>Creates a builder for a new graph.</summary>
    /// <returns>An empty builder.</returns>
    public static InteractionGraphBuilder CreateBuilder() => new();

    /// <summary>The nodes of one round, in agent order.</summary>
    /// <param name="round">The round.</param>
    /// <returns>The nodes (empty when the round does not exist).</returns>
    public IEnumerable<MagNode> NodesInRound(int round) => Shape.NodesInRound(round).Select(i => _nodes[i]);

    /// <summary>The index of the node of <paramref name="agent"/> in <paramref name="round"/>, or -1 when that agent did not speak then.</summary>
    /// <param name="agent">The agent name (exact).</param>
    /// <param name="round">The round.</param>
    /// <returns>The node index or -1.</returns>
    public int IndexOf(string agent, int round)
    {
        var a = Array.IndexOf(_agents, agent);
        return a < 0 ? -1 : Shape.IndexOf(a, round);
    }

    /// <summary>The question this graph discusses.</summary>
    /// <returns>A <see cref="Tasks.Question"/> with this graph's id, task, text, choices and gold answer.</returns>
    public Question ToQuestion() => new(Id, Task, Question, Choices, GoldAnswer);

    /// <summary>The same graph with edges from another interaction pattern.</summary>
    /// <param name="pattern">The pattern.</param>
    /// <returns>A new graph sharing this graph's nodes.</returns>
    /// <exception cref="InvalidGraphException">The pattern produced invalid edges.</exception>
    public InteractionGraph WithPattern(InteractionPattern pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var edges = InteractionGraphBuilder.CreateEdges(pattern, Shape, out var problem);
        if (edges is null)
        {
            throw new InvalidGraphException([problem!]);
        }

        return new InteractionGraph(Id, Task, Question, Choices, GoldAnswer, _agents, _nodes, pattern, Shape, edges);
    }

    /// <inheritdoc />
    public override string ToString() => $"MAG {Id} ({Task}, G{InteractionRounds}, {_nodes.Length} nodes)";
}
