namespace MagDi.Graphs;

/// <summary>
/// Directed edges of a graph in coordinate (COO) form: edge <c>e</c> goes from node <c>Sources[e]</c>
/// to node <c>Targets[e]</c>, as PyTorch Geometric's <c>edge_index[0]</c> and <c>edge_index[1]</c>.
/// </summary>
public sealed class EdgeIndex
{
    private readonly int[] _sources;
    private readonly int[] _targets;

    /// <summary>Creates an edge index from parallel source and target arrays (copied). Call <see cref="Validate"/> to check it against a node count.</summary>
    /// <param name="sources">The source node of each edge.</param>
    /// <param name="targets">The target node of each edge.</param>
    public EdgeIndex(IEnumerable<int> sources, IEnumerable<int> targets)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(targets);
        _sources = sources.ToArray();
        _targets = targets.ToArray();
        Sources = Array.AsReadOnly(_sources);
        Targets = Array.AsReadOnly(_targets);
    }

    /// <summary>
    /// The most edges one graph may have: 10,000,000 (80 MB of indices). A fully connected pattern over a hostile graph of
    /// 300,000 nodes would otherwise enumerate 9e10 edges; a paper-sized MAG has at most 132.
    /// </summary>
    public const int MaxEdges = 10_000_000;

    /// <summary>Creates an edge index from (source, target) pairs.</summary>
    /// <param name="edges">The edges.</param>
    /// <exception cref="InvalidOperationException">There are more than <see cref="MaxEdges"/> edges (enumeration stops there).</exception>
    public EdgeIndex(IEnumerable<(int Source, int Target)> edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        var list = new List<(int Source, int Target)>();
        foreach (var edge in edges)
        {
            if (list.Count == MaxEdges)
            {
                throw new InvalidOperationException($"more than {MaxEdges} edges (EdgeIndex.MaxEdges); the graph is too large for this pattern");
            }

            list.Add(edge);
        }

        _sources = list.Select(e => e.Source).ToArray();
        _targets = list.Select(e => e.Target).ToArray();
        Sources = Array.AsReadOnly(_sources);
        Targets = Array.AsReadOnly(_targets);
    }

    /// <summary>An edge index without edges.</summary>
    internal static EdgeIndex Empty { get; } = new(Array.Empty<int>(), Array.Empty<int>());

    /// <summary>The source node of each edge.</summary>
    public IReadOnlyList<int> Sources { get; }

    /// <summary>The target node of each edge.</summary>
    public IReadOnlyList<int> Targets { get; }

    /// <summary>The number of edges (the length of <see cref="Sources"/> when the index is consistent).</summary>
    public int Count => _sources.Length;

    /// <summary>The edges as (source, target) pairs.</summary>
    public IEnumerable<(int Source, int Target)> Pairs
    {
        get
        {
            var n = Math.Min(_sources.Length, _targets.Length);
            for (var i = 0; i < n; i++)
            {
                yield return (_sources[i], _targets[i]);
            }
        }
    }

    /// <summary>Copies the index into a <c>[2, Count]</c> row-major array (sources then targets), the layout of a PyG <c>edge_index</c> tensor.</summary>
    /// <returns>A new array of length <c>2 * Count</c>.</returns>
    public long[] ToCooArray()
    {
        var result = new long[2 * _sources.Length];
        for (var i = 0; i < _sources.Length; i++)
        {
            result[i] = _sources[i];
            result[_sources.Length + i] = _targets[i];
        }

        return result;
    }

    /// <summary>Checks that the index is consistent with a graph of <paramref name="nodeCount"/> nodes.</summary>
    /// <param name="nodeCount">The number of nodes.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nodeCount"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Sources and targets differ in length, or an index is negative or not below <paramref name="nodeCount"/>; the message names every bad edge (up to ten).</exception>
    public void Validate(int nodeCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        var problems = new List<string>();
        if (_sources.Length != _targets.Length)
        {
            problems.Add($"sources has {_sources.Length} entries but targets has {_targets.Length}");
        }

        var n = Math.Min(_sources.Length, _targets.Length);
        for (var e = 0; e < n && problems.Count < 10; e++)
        {
            if (_sources[e] < 0 || _sources[e] >= nodeCount)
            {
                problems.Add($"edge {e}: source {_sources[e]} is outside [0, {nodeCount})");
            }

            if (_targets[e] < 0 || _targets[e] >= nodeCount)
            {
                problems.Add($"edge {e}: target {_targets[e]} is outside [0, {nodeCount})");
            }
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid edge index: " + string.Join("; ", problems) + ".");
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"EdgeIndex({Count} edges)";
}
