using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Graphs.Heads;

/// <summary>
/// Multi-head self-attention (Vaswani et al., 2017) without positions: softmax(Q Kᵀ / √d_h + mask) V, heads concatenated,
/// then an output projection. It stands where a GCN layer's normalised adjacency Â stands: the mixing weights between
/// items are learned from their contents instead of given by edges. No activation (the caller adds it).
/// State-dict keys (Hugging Face names): <c>q_proj.*</c>, <c>k_proj.*</c>, <c>v_proj.*</c>, <c>o_proj.*</c>.
/// </summary>
internal sealed class GraphSelfAttention : Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "q_proj")]
    private readonly Linear _qProj;

    [ComponentName(Name = "k_proj")]
    private readonly Linear _kProj;

    [ComponentName(Name = "v_proj")]
    private readonly Linear _vProj;

    [ComponentName(Name = "o_proj")]
    private readonly Linear _oProj;

    private readonly int _heads;
    private readonly int _headSize;

    public GraphSelfAttention(int inFeatures, int outFeatures, int heads)
        : base(nameof(GraphSelfAttention))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        if (outFeatures < 1 || outFeatures % heads != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, $"The output size must be a positive multiple of the {heads} heads.");
        }

        TorchRuntime.EnsureInitialized();
        _heads = heads;
        _headSize = outFeatures / heads;
        _qProj = nn.Linear(inFeatures, outFeatures);
        _kProj = nn.Linear(inFeatures, outFeatures);
        _vProj = nn.Linear(inFeatures, outFeatures);
        _oProj = nn.Linear(outFeatures, outFeatures);
        RegisterComponents();
    }

    /// <summary>Attends.</summary>
    /// <param name="x">[B, S, F_in]: B independent sequences of S items.</param>
    /// <param name="allowed">[B, S, S] bool, or broadcastable to it ([B, 1, S] masks keys only): true where query i may attend to key j. Every query needs at least one allowed key.</param>
    /// <returns>[B, S, F_out].</returns>
    public override Tensor forward(Tensor x, Tensor allowed)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        Tensor q = _qProj.forward(x).view(b, s, _heads, _headSize).transpose(1, 2);     // [B, H, S, dh]
        Tensor k = _kProj.forward(x).view(b, s, _heads, _headSize).transpose(1, 2);     // [B, H, S, dh]
        Tensor v = _vProj.forward(x).view(b, s, _heads, _headSize).transpose(1, 2);     // [B, H, S, dh]
        Tensor scores = matmul(q, k.transpose(2, 3)).Over(Math.Sqrt(_headSize));         // [B, H, S, S]
        scores = scores.masked_fill(allowed.unsqueeze(1).logical_not(), Scalars.NegativeInfinity);
        Tensor weights = functional.softmax(scores, -1);                               // [B, H, S, S]
        Tensor h = matmul(weights, v).transpose(1, 2).reshape(b, s, _heads * _headSize); // [B, S, F_out]
        return _oProj.forward(h).MoveToOuterDisposeScope();
    }
}
