namespace MagDi.Graphs;

/// <summary>
/// The shape of a MAG that an <see cref="InteractionPattern"/> needs to produce edges: which
/// (agent, round) each node index stands for.
/// </summary>
public sealed class GraphShape
{
    private readonly (int Agent, int Round)[] _nodes;

    /// <summary>Creates a shape.</summary>
    /// <param name="agentCount">The number of agents.</param>
    /// <param name="nodes">For each node index, the index of its agent and its round, ordered by round then agent.</param>
    public GraphShape(int agentCount, IEnumerable<(int Agent, int Round)> nodes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(agentCount);
        ArgumentNullException.ThrowIfNull(nodes);
        AgentCount = agentCount;
        _nodes = nodes.ToArray();
        Nodes = Array.AsReadOnly(_nodes);
        RoundCount = _nodes.Length == 0 ? 0 : _nodes.Max(n => n.Round) + 1;
    }

    /// <summary>The number of agents.</summary>
    public int AgentCount { get; }

    /// <summary>The number of rounds (the highest round plus one).</summary>
    public int RoundCount { get; }

    /// <summary>The number of nodes.</summary>
    public int NodeCount => _nodes.Length;

    /// <summary>For each node index, its agent index and round.</summary>
    public IReadOnlyList<(int Agent, int Round)> Nodes { get; }

    /// <summary>The node indices of one round, in agent order.</summary>
    /// <param name="round">The round.</param>
    /// <returns>The indices (empty when the round has no node).</returns>
    public IEnumerable<int> NodesInRound(int round)
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i].Round == round)
            {
                yield return i;
            }
        }
    }

    /// <summary>The index of the node of <paramref name="agent"/> in <paramref name="round"/>, or -1.</summary>
    /// <param name="agent">The agent index.</param>
    /// <param name="round">The round.</param>
    /// <returns>The node index, or -1 when that agent did not speak in that round.</returns>
    public int IndexOf(int agent, int round) => Array.IndexOf(_nodes, (agent, round));
}
