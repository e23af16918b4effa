using MagDi.Graphs.Gcn;

namespace MagDi.Graphs.Tests.Gcn;

/// <summary>Small MAG-shaped graphs for GCN tests.</summary>
internal static class TestGraphs
{
    /// <summary>
    /// A layered graph of <paramref name="nodeCount"/> nodes in rounds of up to three agents (node i is agent i mod 3 of
    /// round i / 3), with the ReConcile pattern: every node of round r -> every node of round r + 1.
    /// </summary>
    public static GraphSample Layered(int nodeCount, Func<int, int>? label = null)
    {
        var s = new List<int>();
        var t = new List<int>();
        for (int i = 0; i < nodeCount; i++)
        {
            for (int j = 0; j < nodeCount; j++)
            {
                if (j / 3 == (i / 3) + 1)
                {
                    s.Add(i);
                    t.Add(j);
                }
            }
        }

        label ??= i => i % 2 == 0 ? NodeLabels.Correct : NodeLabels.Incorrect;
        return new GraphSample(nodeCount, s, t, Enumerable.Range(0, nodeCount).Select(label).ToArray());
    }
}
