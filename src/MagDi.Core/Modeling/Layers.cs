using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

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

    public override Tensor forward(Tensor x)
    {
        if (CpuRowKernels.TryRmsNorm(x, _weight, _eps) is { } y)
        {
            return y;
        }

        using var scope = NewDisposeScope();
        Tensor x32 = x.to_type(ScalarType.Float32);
        Tensor normed = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + _eps); // [.., d]
        return (_weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Layer factories that allocate without initialising (torch.empty): loading a checkpoint overwrites every value,
/// so running PyTorch's default init first would only cost time (minutes for 7B models on CPU).
/// <see cref="CausalLanguageModel"/> initialises explicitly when it is not loading.
/// </summary>
internal static class Make
{
    public static Linear Linear(long inFeatures, long outFeatures, bool bias, Device? device, ScalarType dtype) =>
        nn.Linear(
            new Parameter(empty([outFeatures, inFeatures], dtype, device)),
            bias ? new Parameter(empty([outFeatures], dtype, device)) : null!);

    public static Embedding Embedding(long count, long dim, Device? device, ScalarType dtype) =>
        nn.Embedding(count, dim, device: device, dtype: dtype); // one normal_ fill; cheap next to the layers
}

/// <summary>Rotary position embedding helpers (HF rotate-half convention).</summary>
internal static class Rope
{
    /// <summary>cos and sin tables [B,1,T,hd] for position ids [B,T], computed in f32 and cast to <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) Build(Tensor positionIds, int headDim, double theta, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        Tensor invFreq = 1.0 / pow(theta, arange(0, headDim, 2, ScalarType.Float32, positionIds.device) / headDim); // [hd/2]
        Tensor freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;                         // [B,T,hd/2]
        Tensor emb = cat([freqs, freqs], -1).unsqueeze(1);                                                        // [B,1,T,hd]
        return (emb.cos().to_type(dtype).MoveToOuterDisposeScope(), emb.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (CpuRowKernels.TryRope(x, cos, sin) is { } y)
        {
            return y;
        }

        long half = x.shape[^1] / 2;
        using Tensor x1 = x.narrow(-1, 0, half);
        using Tensor x2 = x.narrow(-1, half, half);
        using Tensor rotated = cat([-x2, x1], -1);
        return (x * cos) + (rotated * sin);
    }
}

/// <summary>Per-forward state shared by all decoder layers.</summary>
/// <param name="Cos">Rotary cosines [B,1,T,hd].</param>
/// <param name="Sin">Rotary sines [B,1,T,hd].</param>
/// <param name="Mask">Boolean [B|1, 1, T, S], true where a query may attend; null with <paramref name="IsCausal"/> or for one-token decoding.</param>
/// <param name="IsCausal">Use the fused kernel's causal flag (no mask).</param>
/// <param name="Cache">The KV cache to write this step's keys and values to, or null.</param>
/// <param name="PastLength">Tokens already in the cache.</param>
/// <param name="Eager">Compute attention over several query tokens with <see cref="Attention.Eager"/> (<paramref name="Mask"/> is then set).</param>
internal sealed record LayerContext(Tensor Cos, Tensor Sin, Tensor? Mask, bool IsCausal, KvCache? Cache, long PastLength, bool Eager = false);

/// <summary>A module whose linear projections LoRA can replace by name.</summary>
internal interface IProjectionHost
{
    IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> Projections { get; }

    void ReplaceProjection(string name, nn.Module<Tensor, Tensor> module);
}

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

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>, IProjectionHost
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

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return CpuGemv.Project(_downProj, F.silu(CpuGemv.Project(_gateProj, x)) * CpuGemv.Project(_upProj, x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
internal sealed class DecoderLayer : nn.Module
{
    [ComponentName(Name = "self_attn")] private readonly Attention _selfAttn;
    [ComponentName(Name = "mlp")] private readonly Mlp _mlp;
    [ComponentName(Name = "input_layernorm")] private readonly RmsNorm _inputLayernorm;
    [ComponentName(Name = "post_attention_layernorm")] private readonly RmsNorm _postAttentionLayernorm;

    public DecoderLayer(ModelConfig c, int index, Device? device, ScalarType dtype) : base("DecoderLayer")
    {
        _selfAttn = new Attention(c, index, device, dtype);
        _mlp = new Mlp(c, device, dtype);
        _inputLayernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype);
        _postAttentionLayernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, LayerContext ctx, bool checkpoint)
    {
        // On CUDA the layer's dropout starts from a seed drawn on the CPU, so a recomputation can draw it again.
        long? deviceSeed = training && LayerRandomness.NeedsSeeding(x.device) ? LayerRandomness.SeedLayer() : null;
        if (checkpoint && ctx.Cache is null && is_grad_enabled() && training)
        {
            return ActivationCheckpoint.Run(this, x, ctx, deviceSeed);
        }

        return ForwardCore(x, ctx);
    }

    internal Tensor ForwardCore(Tensor x, LayerContext ctx)
    {
        using var scope = NewDisposeScope();
        Tensor h = x + _selfAttn.Forward(_inputLayernorm.call(x), ctx);
        return (h + _mlp.call(_postAttentionLayernorm.call(h))).MoveToOuterDisposeScope();
    }
}
