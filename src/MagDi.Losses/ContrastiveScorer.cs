using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MagDi.Losses;

/// <summary>
/// Scores a chain representation in [-1, 1] for the margin-ranking objective (paper equation 2):
/// s = tanh(W2 · relu(W1 · h + b1) + b2). State-dict keys <c>dense.*</c> and <c>out_proj.*</c>.
/// </summary>
public sealed class ContrastiveScorer : Module<Tensor, Tensor>
{
    [ComponentName(Name = "dense")]
    private readonly Linear _dense;

    [ComponentName(Name = "out_proj")]
    private readonly Linear _outProj;

    /// <summary>Creates the scorer for representations of size <paramref name="hiddenSize"/>.</summary>
    public ContrastiveScorer(int hiddenSize)
        : base(nameof(ContrastiveScorer))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        TorchRuntime.EnsureInitialized();
        HiddenSize = hiddenSize;
        _dense = Linear(hiddenSize, hiddenSize);
        _outProj = Linear(hiddenSize, 1);
        RegisterComponents();
    }

    /// <summary>Size d of the representations.</summary>
    public int HiddenSize { get; }

    /// <summary>Scores representations.</summary>
    /// <param name="representations">[N, d].</param>
    /// <returns>Scores [N] in [-1, 1].</returns>
    public override Tensor forward(Tensor representations)
    {
        TensorChecks.Rank(representations, 2, nameof(representations), $"[N, {HiddenSize}]");
        using var scope = NewDisposeScope();
        Tensor h = functional.relu(_dense.forward(representations));   // [N, d]
        Tensor s = tanh(_outProj.forward(h)).squeeze(1);               // [N]
        return s.MoveToOuterDisposeScope();
    }
}
