namespace MagDi.Graphs;

/// <summary>
/// How the nodes of a MAG are connected (paper section 3.3 and the Table 11 ablation). Patterns are
/// stateless; the built-in ones are static instances.
/// </summary>
public abstract class InteractionPattern
{
    /// <summary>Creates a pattern.</summary>
    /// <param name="name">A short name, used in files and reports.</param>
    protected InteractionPattern(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The paper's pattern and the default: every node of round r points to every node of round r+1.</summary>
    public static InteractionPattern ReConcile { get; } = new BuiltIn("reconcile", ReConcileEdges);

    /// <summary>The <see cref="ReConcile"/> edges in both directions.</summary>
    public static InteractionPattern Undirected { get; } = new BuiltIn("undirected", s => ReConcileEdges(s).SelectMany(e => new[] { e, (e.Target, e.Source) }));

    /// <summary>Every ordered pair of distinct nodes.</summary>
    public static InteractionPattern FullyConnected { get; } = new BuiltIn("fully-connected", FullEdges);

    /// <summary>Only each agent's own chain: its node in round r points to its node in round r+1.</summary>
    public static InteractionPattern OwnChain { get; } = new BuiltIn("own-chain", OwnChainEdges);

    /// <summary>The built-in patterns.</summary>
    public static IReadOnlyList<InteractionPattern> BuiltIns { get; } = [ReConcile, Undirected, FullyConnected, OwnChain];

    /// <summary>The pattern's name.</summary>
    public string Name { get; }

    /// <summary>Finds a built-in pattern by name, ignoring case (<c>reconcile</c>, <c>undirected</c>, <c>fully-connected</c>, <c>own-chain</c>).</summary>
    /// <param name="name">The name.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="ArgumentException">No built-in pattern has that name.</exception>
    internal static InteractionPattern FromName(string name) =>
        BuiltIns.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown interaction pattern '{name}'. Known patterns: {string.Join(", ", BuiltIns.Select(p => p.Name))}.", nameof(name));

    /// <summary>Creates a user-defined pattern.</summary>
    /// <param name="name">The pattern's name.</param>
    /// <param name="edges">Produces the (source, target) node index pairs of a graph from its shape.</param>
    /// <returns>The pattern.</returns>
    public static InteractionPattern Custom(string name, Func<GraphShape, IEnumerable<(int Source, int Target)>> edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        return new BuiltIn(name, edges);
    }

    /// <summary>Produces the edges of a graph with the given shape.</summary>
    /// <param name="shape">The graph's shape.</param>
    /// <returns>The edges (not yet validated).</returns>
    public abstract EdgeIndex CreateEdges(GraphShape shape);

    /// <inheritdoc />
    public override string ToString() => Name;

    private static IEnumerable<(int Source, int Target)> ReConcileEdges(GraphShape shape)
    {
        for (var r = 0; r + 1 < shape.RoundCount; r++)
        {
            var next = shape.NodesInRound(r + 1).ToArray();
            foreach (var s in shape.NodesInRound(r))
            {
                foreach (var t in next)
                {
                    yield return (s, t);
                }
            }
        }
    }

    private static IEnumerable<(int Source, int Target)> FullEdges(GraphShape shape)
    {
        for (var i = 0; i < shape.NodeCount; i++)
        {
            for (var j = 0; j < shape.NodeCount; j++)
            {
                if (i != j)
                {
                    yield return (i, j);
                }
            }
        }
    }

    private static IEnumerable<(int Source, int Target)> OwnChainEdges(GraphShape shape)
    {
        for (var i = 0; i < shape.NodeCount; i++)
        {
            var (agent, round) = shape.Nodes[i];
            var next = shape.IndexOf(agent, round + 1);
            if (next >= 0)
            {
                yield return (i, next);
            }
        }
    }

    private sealed class BuiltIn(string name, Func<GraphShape, IEnumerable<(int Source, int Target)>> edges) : InteractionPattern(name)
    {
        public override EdgeIndex CreateEdges(GraphShape shape)
        {
            ArgumentNullException.ThrowIfNull(shape);
            return new EdgeIndex(edges(shape));
        }
    }
}
