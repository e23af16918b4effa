using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Modeling;

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
