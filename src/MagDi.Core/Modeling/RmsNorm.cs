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
        Tensor x32 = x.to_type(ScalarType.Float32);
        Tensor normed = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + _eps); // [.., d]
        return (_weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
