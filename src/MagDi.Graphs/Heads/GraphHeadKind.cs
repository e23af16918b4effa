namespace MagDi.Graphs.Heads;

/// <summary>
/// How the node-classification objective models a MAG's interactions (paper Table 6). Every head ends in the same
/// classifier over node labels; they differ in how a node's vector comes to depend on the other nodes.
/// </summary>
public enum GraphHeadKind
{
    /// <summary>
    /// Two GCN layers over the MAG's edges (<see cref="Gcn.GcnNodeClassifier"/>): the interaction structure is given.
    /// The paper's MAGDi and the default.
    /// </summary>
    Gcn = 0,

    /// <summary>
    /// Two multi-head self-attention layers over the MAG's node vectors with no edges: any node attends to any node of
    /// its own MAG (<see cref="NodeAttentionClassifier"/>). The paper's "node-level attention".
    /// </summary>
    NodeAttention = 1,

    /// <summary>
    /// The whole interaction as one token sequence: two multi-head self-attention layers in which any token attends to
    /// any token of its MAG, then each node's span is pooled and classified (<see cref="TokenAttentionClassifier"/>).
    /// The paper's "token-level attention".
    /// </summary>
    TokenAttention = 2,
}
