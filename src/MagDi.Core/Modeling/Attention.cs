using MagDi.Modeling.Kernels;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Grouped-query self-attention with rotary embeddings and an optional KV cache.</summary>
internal sealed class Attention : nn.Module, IProjectionHost
{
    [ComponentName(Name = "q_proj")] private nn.Module<Tensor, Tensor> _qProj;
    [ComponentName(Name = "k_proj")] private nn.Module<Tensor, Tensor> _kProj;
    [ComponentName(Name = "v_proj")] private nn.Module<Tensor, Tensor> _vProj;
    [ComponentName(Name = "o_proj")] private nn.Module<Tensor, Tensor> _oProj;
    private readonly int _heads, _kvHeads, _headDim, _layerIndex;

    public Attention(ModelConfig c, int layerIndex, Device? device, ScalarType dtype) : base("Attention")
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.KeyValueHeads;
        _headDim = c.EffectiveHeadDim;
        _layerIndex = layerIndex;
        _qProj = Make.Linear(c.HiddenSize, _heads * _headDim, c.QkvBias, device, dtype);
        _kProj = Make.Linear(c.HiddenSize, _kvHeads * _headDim, c.QkvBias, device, dtype);
        _vProj = Make.Linear(c.HiddenSize, _kvHeads * _headDim, c.QkvBias, device, dtype);
        _oProj = Make.Linear(_heads * _headDim, c.HiddenSize, c.OutputBias, device, dtype);
        RegisterComponents();
    }

    public IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> Projections =>
        [("q_proj", _qProj), ("k_proj", _kProj), ("v_proj", _vProj), ("o_proj", _oProj)];

    public void ReplaceProjection(string name, nn.Module<Tensor, Tensor> module)
    {
        register_module(name, null!);
        register_module(name, module);
        switch (name)
        {
            case "q_proj": _qProj = module; break;
            case "k_proj": _kProj = module; break;
            case "v_proj": _vProj = module; break;
            case "o_proj": _oProj = module; break;
            default: throw new ArgumentException($"Attention has no projection '{name}'.", nameof(name));
        }
    }

    /// <summary>x [B,T,d] to [B,T,d]: projections, rotary embedding, cache write, then the forward's <see cref="LayerContext.Attention"/>.</summary>
    public Tensor Forward(Tensor x, LayerContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        ForwardKernels kernels = ctx.Kernels;
        Tensor q = kernels.Project(_qProj, x).view(b, t, _heads, _headDim).transpose(1, 2);   // [B,H,T,hd]
        Tensor k = kernels.Project(_kProj, x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KvH,T,hd]
        Tensor v = kernels.Project(_vProj, x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KvH,T,hd]
        q = Rope.Apply(q, ctx.Cos, ctx.Sin, kernels);
        k = Rope.Apply(k, ctx.Cos, ctx.Sin, kernels);
        if (ctx.Cache is { } cache)
        {
            (k, v) = cache.Write(_layerIndex, ctx.PastLength, k, v);                          // [B,KvH,S,hd]
        }

        Tensor y = ctx.Attention.Attend(q, k, v, ctx.Mask);                                   // [B,H,T,hd]
        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);                                // [B,T,H*hd]
        return kernels.Project(_oProj, y).MoveToOuterDisposeScope();                           // [B,T,d]
    }
}
