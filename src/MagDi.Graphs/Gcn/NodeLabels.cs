namespace MagDi.Graphs.Gcn;

/// <summary>The node-classification labels used by MagDi's GCN head.</summary>
public static class NodeLabels
{
    /// <summary>An incorrect node (its answer differs from the gold answer).</summary>
    public const int Incorrect = 0;

    /// <summary>A correct node (its answer equals the gold answer).</summary>
    public const int Correct = 1;

    /// <summary>A padded, missing node: the third class of the released recipe (C = 3, graphs padded to 12 nodes).</summary>
    public const int Missing = 2;

    /// <summary>A node that no loss looks at (PyTorch's <c>ignore_index</c> convention).</summary>
    public const int Ignore = -100;

    /// <summary>The label of a node with the given correctness.</summary>
    public static int From(bool isCorrect) => isCorrect ? Correct : Incorrect;
}
