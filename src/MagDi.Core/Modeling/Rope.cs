using MagDi.Modeling.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Rotary position embedding helpers (HF rotate-half convention).</summary>
internal static class Rope
{
    /// <summary>cos and sin tables [B,1,T,hd] for position ids [B,T], computed in f32 and cast to <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) Build(Tensor positionIds, int headDim, double theta, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        Tensor invFreq = pow(theta, Scalars.Arange(0, headDim, 2, ScalarType.Float32, positionIds.device).Over((long)headDim)).Dividing(1.0); // [hd/2]
        Tensor freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;                         // [B,T,hd/2]
        Tensor emb = cat([freqs, freqs], -1).unsqueeze(1);                                                        // [B,1,T,hd]
        return (emb.cos().to_type(dtype).MoveToOuterDisposeScope(), emb.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// cos and sin [B,1,T,hd] for position ids [B,T] read from <paramref name="table"/>, which holds them for positions
    /// 0 … <see cref="RopeTable.Positions"/> - 1 computed by <see cref="Build"/>. Each element of a cos or sin table is
    /// computed on its own, so the rows read are bit for bit what <see cref="Build"/> gives for the same positions.
    /// </summary>
    public static (Tensor Cos, Tensor Sin) Lookup(RopeTable table, Tensor positionIds)
    {
        long b = positionIds.shape[0], t = positionIds.shape[1];
        using Tensor flat = positionIds.reshape(-1);
        return (table.Cos.index_select(0, flat).view(b, 1, t, table.HeadDim),
                table.Sin.index_select(0, flat).view(b, 1, t, table.HeadDim));
    }

    /// <summary>x · cos + rotate_half(x) · sin for x [B,H,T,hd], cos and sin [B,1,T,hd], with the forward's kernel when it has one.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin, ForwardKernels kernels) =>
        kernels.TryRope(x, cos, sin) ?? Rotate(x, cos, sin);

    /// <summary>x · cos + rotate_half(x) · sin with libtorch's ops: the reference every kernel of it reproduces.</summary>
    internal static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        Tensor rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);   // [B,H,T,hd]
        return (x * cos).Plus(rotated * sin).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The rotary cos and sin of positions 0 … <see cref="Positions"/> - 1 (at most max_position_embeddings), on one device
/// in one dtype (litgpt's rope cache). Building them in each forward took some ten small ops, and libtorch hands float32 cos and sin of as few as 128
/// elements to MKL's threaded vector maths: a two-row decoding step woke libtorch's OpenMP team, whose spinning threads
/// then took the cores from the CPU decoding kernels' workers (about 2x slower steps). Not a module buffer: it is derived
/// from the config, never saved, and rebuilt when the model moves to another device or dtype.
/// </summary>
internal sealed class RopeTable : IDisposable
{
    private RopeTable(Tensor cos, Tensor sin, int positions, int headDim, Device device, ScalarType dtype)
    {
        Cos = cos;
        Sin = sin;
        Positions = positions;
        HeadDim = headDim;
        Device = device;
        DType = dtype;
    }

    /// <summary>cos of every position [Positions, hd].</summary>
    public Tensor Cos { get; }

    /// <summary>sin of every position [Positions, hd].</summary>
    public Tensor Sin { get; }

    /// <summary>Positions covered: 0 … Positions - 1.</summary>
    public int Positions { get; }

    /// <summary>Head dimension hd.</summary>
    public int HeadDim { get; }

    /// <summary>Device of the tables.</summary>
    public Device Device { get; }

    /// <summary>Dtype of the tables.</summary>
    public ScalarType DType { get; }

    /// <summary>Computes the tables with <see cref="Rope.Build"/> for positions 0 … <paramref name="positions"/> - 1.</summary>
    public static RopeTable Create(int positions, int headDim, double theta, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor ids = Scalars.Arange(0, positions, ScalarType.Int64, device).unsqueeze(0); // [1,P]
        var (cos, sin) = Rope.Build(ids, headDim, theta, dtype);                                  // [1,1,P,hd]
        return new RopeTable(
            cos.view(positions, headDim).contiguous().DetachFromDisposeScope(),
            sin.view(positions, headDim).contiguous().DetachFromDisposeScope(),
            positions, headDim, device, dtype);
    }

    /// <summary>True when this table serves a forward on <paramref name="device"/> in <paramref name="dtype"/>.</summary>
    public bool Matches(Device device, ScalarType dtype) =>
        DType == dtype && Device.type == device.type && Device.index == device.index;

    /// <inheritdoc/>
    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
