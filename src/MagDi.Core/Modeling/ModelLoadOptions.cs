using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>How <see cref="CausalLanguageModel.FromPretrained"/> places and checks the weights.</summary>
public sealed class ModelLoadOptions
{
    /// <summary>Target device; null means CPU.</summary>
    public Device? Device { get; set; }

    /// <summary>Target dtype (float32, bfloat16 or float16); null means float32.</summary>
    public ScalarType? DType { get; set; }

    /// <summary>Fail when checkpoint keys and model keys differ (default true); when false, missing weights keep their initialisation.</summary>
    public bool Strict { get; set; } = true;
}
