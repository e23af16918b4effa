using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>Parses the dtype names used in options and on the command line.</summary>
internal static class DTypes
{
    /// <summary><c>f32</c>/<c>float32</c>, <c>bf16</c>/<c>bfloat16</c>, <c>f16</c>/<c>float16</c>.</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static ScalarType Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" or "fp32" or "float" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "f16" or "float16" or "fp16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"Unknown dtype '{name}'; use f32, bf16 or f16.", nameof(name)),
    };
}
