namespace MagDi.Graphs;

/// <summary>
/// The shape of a MAG that an <see cref="InteractionPattern"/> needs to produce edges: which
/// (agent, round) each node index stands for.
/// </summary>
public sealed class GraphShape
{
    private readonly (int Agent, int Round)[] _nodes;

    // Node indices grouped by round (CSR layout: the indices of round r are _byRound[_roundStart[r].._roundStart[r + 1]]),
    // so NodesInRound and IndexOf cost O(nodes in the round), not O(nodes): a graph of 100,000 rounds is read in linear
    // time. Null when the rounds are too sparse for an array (RoundCount > node count); then the lookups scan.
    private readonly int[]? _roundStart;
    private readonly int[]? _byRound;

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
        if (RoundCount <= _nodes.Length && _nodes.All(n => n.Round >= 0))
        {
            _roundStart = new int[RoundCount + 1];
            foreach (var (_, round) in _nodes)
            {
                _roundStart[round + 1]++;
            }

            for (var r = 0; r < RoundCount; r++)
            {
                _roundStart[r + 1] += _roundStart[r];
            }

            _byRound = new int[_nodes.Length];
            var next = _roundStart[..^1];
            for (var i = 0; i < _nodes.Length; i++)
            {
                _byRound[next[_nodes[i].Round]++] = i; // stable: node order within a round is kept
            }
        }
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
        if (_byRound is not null)
        {
            if (round < 0 || round >= RoundCount)
            {
                yield break;
            }

            for (var k = _roundStart![round]; k < _roundStart[round + 1]; k++)
            {
                yield return _byRound[k];
            }

            yield break;
        }

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
    public int IndexOf(int agent, int round)
    {
        if (_byRound is null)
        {
            return Array.IndexOf(_nodes, (agent, round));
        }

        if (round < 0 || round >= RoundCount)
        {
            return -1;
        }

        for (var k = _roundStart![round]; k < _roundStart[round + 1]; k++)
        {
            if (_nodes[_byRound[k]].Agent == agent)
            {
                return _byRound[k];
            }
        }

        return -1;
    }
}
