using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>The decoder stack (<c>model.*</c> keys): embeddings, layers, final norm.</summary>
internal sealed class DecoderStack : nn.Module
{
    [ComponentName(Name = "embed_tokens")] private readonly Embedding _embedTokens;
    [ComponentName(Name = "layers")] private readonly ModuleList<DecoderLayer> _layers;
    [ComponentName(Name = "norm")] private readonly RmsNorm _norm;

    public DecoderStack(ModelConfig c, Device? device, ScalarType dtype) : base("model")
    {
        _embedTokens = Make.Embedding(c.VocabSize, c.HiddenSize, device, dtype);
        _layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new DecoderLayer(c, i, device, dtype)).ToArray());
        _norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    public Embedding EmbedTokens => _embedTokens;

    public IList<DecoderLayer> Layers => _layers;

    public Tensor Forward(Tensor inputIds, LayerContext ctx, bool checkpoint)
    {
        using var scope = NewDisposeScope();
        Tensor h = _embedTokens.call(inputIds); // [B,T,d]
        foreach (DecoderLayer layer in _layers)
        {
            h = layer.Forward(h, ctx, checkpoint);
        }

        return _norm.Forward(h, ctx.Kernels).MoveToOuterDisposeScope();
    }
}
