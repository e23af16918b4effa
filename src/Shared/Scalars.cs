using TorchSharp;
using static TorchSharp.torch;

namespace MagDi;

/// <summary>
/// Tensor operations with numbers, written so that every TorchSharp <see cref="Scalar"/> they pass to libtorch is alive until
/// the native call returns.
/// </summary>
/// <remarks>
/// <para>
/// TorchSharp 0.107 turns every number given to a tensor operation (<c>x * 0.5</c>, <c>masked_fill(m, -inf)</c>,
/// <c>arange(0, n)</c>) and the implicit alpha of <c>a + b</c> and <c>a - b</c> into a <see cref="Scalar"/> that nothing
/// references once its handle has been read, and that only its finalizer frees. A garbage collection during the native
/// call can then free it while libtorch is reading it: a use after free that surfaces, rarely and at random, as
/// "Expected false to be true" from <c>c10::Scalar::toFloat</c>, or as a wrong value (dotnet/TorchSharp#1434). Under a
/// thread that collects continuously, generation with a tiny model fails within seconds.
/// </para>
/// <para>
/// So MagDi never lets a number become a temporary <see cref="Scalar"/>: the constants below live as long as the process,
/// and the helpers dispose the Scalars they create after the call. <c>ScalarLifetimeTests</c> scans MagDi's assemblies for
/// implicit conversions to <see cref="Scalar"/> and for calls into TorchSharp methods that create one internally.
/// </para>
/// <para>This file is compiled into MagDi.Core, MagDi.Losses, MagDi.Graphs and MagDi.Training; it is internal to each.</para>
/// </remarks>
internal static class Scalars
{
    /// <summary>1: the alpha of every sum and difference of two tensors.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>2.</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>-∞, for masks.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary>A Scalar the caller owns: hold it in a <c>using</c> declaration that outlives the call it is passed to.</summary>
    public static Scalar Of(double value) => value.ToScalar();

    /// <inheritdoc cref="Of(double)"/>
    public static Scalar Of(long value) => value.ToScalar();

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + value</c>.</summary>
    public static Tensor Plus(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.add(s, One);
    }

    /// <summary><c>a - value</c> with an integral Scalar (integer tensors stay integer).</summary>
    public static Tensor Minus(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.sub(s);
    }

    /// <summary><c>a - value</c>.</summary>
    public static Tensor Minus(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.sub(s);
    }

    /// <summary><c>a * a</c> as libtorch's <c>pow(a, 2)</c> computes it (TorchSharp's <c>square()</c> passes a temporary 2).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary><c>value - a</c> (as TorchSharp's operator computes it: <c>-a + value</c>).</summary>
    public static Tensor SubtractedFrom(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.negative().add(s, One);
    }

    /// <summary><c>a * value</c>.</summary>
    public static Tensor Times(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a * value</c>, with an integral Scalar (integer tensors stay integer).</summary>
    public static Tensor Times(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a / value</c> (true division, as <c>/</c> in PyTorch).</summary>
    public static Tensor Over(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.div(s);
    }

    /// <summary><c>a / value</c> with an integral Scalar (true division, as <c>/</c> in PyTorch).</summary>
    public static Tensor Over(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.div(s);
    }

    /// <summary><c>value / a</c> (as TorchSharp's operator computes it: <c>reciprocal(a) * value</c>).</summary>
    public static Tensor Dividing(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.reciprocal().mul(s);
    }

    /// <summary><c>a &lt; value</c>.</summary>
    public static Tensor LessThan(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.lt(s);
    }

    /// <summary><c>a &gt;= value</c> with an integral Scalar.</summary>
    public static Tensor AtLeast(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.ge(s);
    }

    /// <summary><c>a != value</c>.</summary>
    public static Tensor NotEqual(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.ne(s);
    }

    /// <summary><c>a.clamp_min(value)</c>.</summary>
    public static Tensor ClampMin(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.clamp_min(s);
    }

    /// <summary><c>a &gt;= value</c>.</summary>
    public static Tensor AtLeast(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.ge(s);
    }

    /// <summary><c>a.masked_fill(mask, value)</c>.</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value)
    {
        using Scalar s = value.ToScalar();
        return a.masked_fill(mask, s);
    }

    /// <summary><c>arange(start, end, step)</c>.</summary>
    public static Tensor Arange(long start, long end, long step, ScalarType dtype, Device device)
    {
        using Scalar first = start.ToScalar(), stop = end.ToScalar(), by = step.ToScalar();
        return arange(first, stop, by, dtype, device);
    }

    /// <summary><c>arange(start, end)</c>.</summary>
    public static Tensor Arange(long start, long end, ScalarType dtype, Device device) => Arange(start, end, 1, dtype, device);
}
