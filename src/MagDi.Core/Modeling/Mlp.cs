using MagDi.Modeling.Kernels;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MagDi.Modeling;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
internal sealed class Mlp : nn.Module, IProjectionHost
{
    [ComponentName(Name = "gate_proj")] private nn.Module<Tensor, Tensor> _gateProj;
    [ComponentName(Name = "up_proj")] private nn.Module<Tensor, Tensor> _upProj;
    [ComponentName(Name = "down_proj")] private nn.Module<Tensor, Tensor> _downProj;

    public Mlp(ModelConfig c, Device? device, ScalarType dtype) : base("Mlp")
    {
        bool bias = c.MlpBias == true;
        _gateProj = Make.Linear(c.HiddenSize, c.IntermediateSize, bias, device, dtype);
        _upProj = Make.Linear(c.HiddenSize, c.IntermediateSize, bias, device, dtype);
        _downProj = Make.Linear(c.IntermediateSize, c.HiddenSize, bias, device, dtype);
        RegisterComponents();
    }

    public IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> Projections =>
        [("gate_proj", _gateProj), ("up_proj", _upProj), ("down_proj", _downProj)];

    public void ReplaceProjection(string name, nn.Module<Tensor, Tensor> module)
    {
        register_module(name, null!);
        register_module(name, module);
        switch (name)
        {
            case "gate_proj": _gateProj = module; break;
            case "up_proj": _upProj = module; break;
            case "down_proj": _downProj = module; break;
            default: throw new ArgumentException($"Mlp has no projection '{name}'.", nameof(name));
        }
    }

    /// <summary>x [..,d] to [..,d], computed with <paramref name="kernels"/>.</summary>
    public Tensor Forward(Tensor x, ForwardKernels kernels)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = F.silu(kernels.Project(_gateProj, x)) * kernels.Project(_upProj, x); // [..,ffn]
        return kernels.Project(_downProj, hidden).MoveToOuterDisposeScope();
    }
}
