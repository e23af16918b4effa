using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Graphs.Gcn;

/// <summary>
/// Graph convolution h' = Â (h W) + b, with Â a normalised adjacency (see <see cref="GcnNormalization"/>).
/// Written like PyTorch Geometric's <c>GCNConv</c>: a bias-free Glorot-initialised linear map, propagation, then a
/// zero-initialised bias; state-dict keys <c>lin.weight</c> and <c>bias</c>. No activation (the caller adds it).
/// </summary>
public sealed class GcnConv : Module<Tensor, GcnAdjacency, Tensor>
{
    [ComponentName(Name = "lin")]
    private readonly Linear _lin;

    [ComponentName(Name = "bias")]
    private readonly Parameter? _bias;

    /// <summary>Creates the layer.</summary>
    /// <param name="inFeatures">Input feature size F_in.</param>
    /// <param name="outFeatures">Output feature size F_out.</param>
    /// <param name="bias">Whether to add a learnable bias (default true, initialised to zero).</param>
    public GcnConv(int inFeatures, int outFeatures, bool bias = true)
        : base(nameof(GcnConv))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        TorchRuntime.EnsureInitialized();
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _lin = nn.Linear(inFeatures, outFeatures, hasBias: false);
        using (no_grad())
        {
            nn.init.xavier_uniform_(_lin.weight!);
        }

        _bias = bias ? new Parameter(zeros(outFeatures)) : null;
        RegisterComponents();
    }

    /// <summary>Input feature size.</summary>
    public int InFeatures { get; }

    /// <summary>Output feature size.</summary>
    public int OutFeatures { get; }

    /// <summary>Applies the convolution.</summary>
    /// <param name="x">Node features [N, F_in].</param>
    /// <param name="adjacency">Normalised adjacency of the N nodes.</param>
    /// <returns>Updated node features [N, F_out].</returns>
    public override Tensor forward(Tensor x, GcnAdjacency adjacency)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(adjacency);
        using var scope = NewDisposeScope();
        Tensor h = adjacency.Propagate(_lin.forward(x));   // [N, F_out]
        if (_bias is not null)
        {
            h = h.Plus(_bias);
        }

        return h.MoveToOuterDisposeScope();
    }
}
