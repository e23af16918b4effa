using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// Random state of decoder layers on devices whose generator cannot be saved and restored through TorchSharp
/// (CUDA: 0.107 exposes <c>torch.cuda.manual_seed</c> but no <c>get_rng_state</c>).
/// </summary>
/// <remarks>
/// Activation checkpointing must draw the same dropout masks (LoRA dropout) when it recomputes a layer in the
/// backward pass. On the CPU the generator's state is saved before the layer and restored for the recomputation.
/// A CUDA generator cannot be saved, so in training mode every decoder layer on such a device starts from a seed
/// drawn from the CPU generator, and the recomputation reseeds with the same value. The layer is seeded whether or
/// not checkpointing is on, so checkpointed and plain runs draw the same masks and give the same gradients, and a
/// run is reproducible from the CPU seed alone (which training checkpoints save).
/// </remarks>
internal static class LayerRandomness
{
    // Test hooks, per thread so that tests running in parallel never see each other's settings: a test can let the
    // CPU play the role of a device whose generator cannot be saved.
    [ThreadStatic] private static Func<Device, bool>? _usesDeviceGenerator;
    [ThreadStatic] private static Action<long>? _seedDeviceGenerator;

    /// <summary>Whether layers on <paramref name="device"/> draw from a generator that must be reseeded.</summary>
    public static bool NeedsSeeding(Device device) => _usesDeviceGenerator?.Invoke(device) ?? device.type != DeviceType.CPU;

    /// <summary>Draws a seed from the CPU generator and seeds the device generators with it; returns the seed.</summary>
    public static long SeedLayer()
    {
        using Tensor draw = randint(0, long.MaxValue, [1], dtype: ScalarType.Int64, device: CPU);
        long seed = draw.item<long>();
        Reseed(seed);
        return seed;
    }

    /// <summary>Seeds the device generators again with a seed <see cref="SeedLayer"/> returned.</summary>
    public static void Reseed(long seed)
    {
        if (_seedDeviceGenerator is { } seedForTest)
        {
            seedForTest(seed);
        }
        else
        {
            cuda.manual_seed_all(seed);
        }
    }

    /// <summary>For tests: treats devices matching <paramref name="usesDeviceGenerator"/> as such devices, seeded by <paramref name="seed"/>, on this thread until disposed.</summary>
    internal static IDisposable OverrideForTests(Func<Device, bool> usesDeviceGenerator, Action<long> seed)
    {
        _usesDeviceGenerator = usesDeviceGenerator;
        _seedDeviceGenerator = seed;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        public void Dispose()
        {
            _usesDeviceGenerator = null;
            _seedDeviceGenerator = null;
        }
    }
}
