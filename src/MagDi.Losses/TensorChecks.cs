using static TorchSharp.torch;

namespace MagDi.Losses;

/// <summary>Shape checks with messages that name the argument and the shapes.</summary>
internal static class TensorChecks
{
    public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    public static void Rank(Tensor t, int rank, string name, string layout)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() != rank)
        {
            throw new ArgumentException($"{name} must have shape {layout}, got {Shape(t)}.", name);
        }
    }

    /// <summary>The dtype a loss is computed in: float32 for half-precision inputs, otherwise the input's own.</summary>
    public static ScalarType ComputeType(ScalarType dtype) =>
        dtype is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : dtype;

    /// <summary>A scalar zero that stays connected to <paramref name="source"/>'s graph (0 · sum of an empty slice).</summary>
    public static Tensor ConnectedZero(Tensor source, ScalarType dtype) =>
        source.reshape(-1).narrow(0, 0, 0).sum().to(dtype);
}
