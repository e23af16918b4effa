using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>A module whose linear projections LoRA can replace by name.</summary>
internal interface IProjectionHost
{
    IEnumerable<(string Name, nn.Module<Tensor, Tensor> Module)> Projections { get; }

    void ReplaceProjection(string name, nn.Module<Tensor, Tensor> module);
}
