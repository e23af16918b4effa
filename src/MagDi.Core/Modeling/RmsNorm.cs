using MagDi.Modeling.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Root-mean-square layer norm as Hugging Face Llama computes it: in f32, then scaled in the input dtype.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")]
    private readonly Parameter _weight;
    private readonly double _eps;

    public RmsNorm(long dim, double eps, Device? device, ScalarType dtype) : base("RmsNorm")
    {
        _weight = new Parameter(ones(dim, dtype: dtype, device: device));
        _eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x) => Forward(x, ForwardKernels.LibTorch);

    /// <summary>Normalises x [.., d], with the forward's kernel when it has one for these tensors.</summary>
    public Tensor Forward(Tensor x, ForwardKernels kernels)
    {
        if (kernels.TryRmsNorm(x, _weight, _eps) is { } y)
        {
            return y;
        }

        using var scope = NewDisposeScope();
        return Normalize(x, _weight, _eps).Output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// weight · RMSNorm(x [.., d]) with libtorch's ops, the reference every kernel of it reproduces, and the per-row
    /// 1/rms [.., 1] in f32. Both tensors belong to the caller's dispose scope.
    /// </summary>
    internal static (Tensor Output, Tensor InverseRms) Normalize(Tensor x, Tensor weight, double eps)
    {
        Tensor x32 = x.to_type(ScalarType.Float32);                                   // [.., d]
        Tensor r = rsqrt(x32.Squared().mean([-1], keepdim: true).Plus(eps));                 // [.., 1]
        return (weight * (x32 * r).to_type(x.dtype), r);                              // [.., d]
    }
}
