using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

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
        Tensor h = x.Plus(_selfAttn.Forward(_inputLayernorm.Forward(x, ctx.Kernels), ctx));                   // [B,T,d]
        return h.Plus(_mlp.Forward(_postAttentionLayernorm.Forward(h, ctx.Kernels), ctx.Kernels)).MoveToOuterDisposeScope();
    }
}
