using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

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

    /// <summary>HF repeat_kv: [B,KvH,S,hd] -> [B,H,S,hd], head h reading kv head h / (H/KvH). Expand + reshape has a cheap backward (a sum), unlike repeat_interleave's index_add.</summary>
    private Tensor RepeatKv(Tensor x)
    {
        long b = x.shape[0], s = x.shape[2];
        return x.unsqueeze(2).expand(b, _kvHeads, _heads / _kvHeads, s, _headDim).reshape(b, _heads, s, _headDim);
    }

    /// <summary>
    /// Hugging Face's eager attention: softmax(q kᵀ / √hd, masked) v with the scores in the model dtype and the softmax in
    /// float32, cast back before multiplying by v. q [B,H,T,hd], k and v [B,H,S,hd], mask bool [B|1,1,T,S].
    /// </summary>
    internal static Tensor Eager(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        using var scope = NewDisposeScope();
        Tensor scores = q.matmul(k.transpose(-1, -2)).mul(1.0 / Math.Sqrt(q.shape[^1]));            // [B,H,T,S]
        Tensor probs = F.softmax(scores.masked_fill(mask.logical_not(), double.NegativeInfinity), -1, ScalarType.Float32);
        return probs.to(q.dtype).matmul(v).MoveToOuterDisposeScope();                             // [B,H,T,hd]
    }

    public Tensor Forward(Tensor x, LayerContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        Tensor q = CpuGemv.Project(_qProj, x).view(b, t, _heads, _headDim).transpose(1, 2);   // [B,H,T,hd]
        Tensor k = CpuGemv.Project(_kProj, x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KvH,T,hd]
        Tensor v = CpuGemv.Project(_vProj, x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KvH,T,hd]
        q = Rope.Apply(q, ctx.Cos, ctx.Sin);
        k = Rope.Apply(k, ctx.Cos, ctx.Sin);
        if (ctx.Cache is { } cache)
        {
            (k, v) = cache.Write(_layerIndex, ctx.PastLength, k, v);               // [B,KvH,S,hd]
        }

        Tensor y;
        if (t == 1 && CpuDecodeAttention.TryAttend(q, k, v, ctx.Mask) is { } decoded)
        {
            y = decoded;                                                                     // [B,H,1,hd]
        }
        else if (_kvHeads != _heads && t == 1 && !ctx.IsCausal)
        {
            // Decoding one token: fold each kv head's query group into the query axis instead of copying the cache H/KvH times.
            Tensor grouped = q.reshape(b, _kvHeads, _heads / _kvHeads, _headDim);            // [B,KvH,H/KvH,hd]
            y = F.scaled_dot_product_attention(grouped, k, v, ctx.Mask, 0.0, false);         // mask [B,1,1,S] broadcasts
            y = y.reshape(b, _heads, 1, _headDim);                                           // [B,H,1,hd]
        }
        else
        {
            if (_kvHeads != _heads)
            {
                k = RepeatKv(k);                                                             // [B,H,S,hd]
                v = RepeatKv(v);
            }

            y = ctx.Eager
                ? Eager(q, k, v, ctx.Mask!)                                                  // [B,H,T,hd]
                : F.scaled_dot_product_attention(q, k, v, ctx.Mask, 0.0, ctx.IsCausal);
        }

        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return CpuGemv.Project(_oProj, y).MoveToOuterDisposeScope();
    }
}
