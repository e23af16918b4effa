using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// Preallocated key/value buffers for incremental decoding (litgpt style): each forward writes the new keys
/// and values at the current position and attends over everything written so far.
/// One cache belongs to one batch of sequences; it is for inference (no autograd through it).
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;   // per layer [B,KvH,MaxLength,hd]
    private readonly Tensor[] _values; // per layer [B,KvH,MaxLength,hd]

    private KvCache(Tensor[] keys, Tensor[] values, int batchSize, int maxLength)
    {
        _keys = keys;
        _values = values;
        BatchSize = batchSize;
        MaxLength = maxLength;
    }

    /// <summary>Number of sequences in the batch.</summary>
    public int BatchSize { get; }

    /// <summary>Capacity in positions (prompt plus generated tokens).</summary>
    public int MaxLength { get; }

    /// <summary>Positions written so far; the next forward writes at this position.</summary>
    public int Length { get; internal set; }

    /// <summary>Allocates a cache for <paramref name="model"/> on its device and in its dtype.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Batch size or length is not positive.</exception>
    public static KvCache Create(CausalLanguageModel model, int batchSize, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        TorchRuntime.EnsureInitialized();
        ModelConfig c = model.Config;
        var keys = new Tensor[c.NumHiddenLayers];
        var values = new Tensor[c.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros([batchSize, c.KeyValueHeads, maxLength, c.EffectiveHeadDim], model.DType, model.Device).DetachFromDisposeScope();
            values[i] = zeros([batchSize, c.KeyValueHeads, maxLength, c.EffectiveHeadDim], model.DType, model.Device).DetachFromDisposeScope();
        }

        return new KvCache(keys, values, batchSize, maxLength);
    }

    /// <summary>Writes k, v [B,KvH,T,hd] at <paramref name="position"/> and returns views of positions [0, position+T).</summary>
    internal (Tensor Keys, Tensor Values) Write(int layer, long position, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (position + t > MaxLength)
        {
            throw new InvalidOperationException($"KV cache overflow: writing {t} positions at {position} exceeds its capacity of {MaxLength}.");
        }

        if (k.shape[0] != BatchSize)
        {
            throw new ArgumentException($"KV cache was created for batch size {BatchSize} but the input has {k.shape[0]} rows.");
        }

        using (no_grad())
        {
            _keys[layer].narrow(2, position, t).copy_(k);
            _values[layer].narrow(2, position, t).copy_(v);
        }

        return (_keys[layer].narrow(2, 0, position + t), _values[layer].narrow(2, 0, position + t));
    }

    /// <summary>Keeps only the given batch rows (for example after some sequences finished). Returns a new cache; this one is disposed.</summary>
    public KvCache Select(Tensor rowIndices)
    {
        ArgumentNullException.ThrowIfNull(rowIndices);
        var keys = _keys.Select(k => k.index_select(0, rowIndices).DetachFromDisposeScope()).ToArray();
        var values = _values.Select(v => v.index_select(0, rowIndices).DetachFromDisposeScope()).ToArray();
        var result = new KvCache(keys, values, (int)rowIndices.shape[0], MaxLength) { Length = Length };
        Dispose();
        return result;
    }

    /// <summary>Forgets everything written (keeps the buffers).</summary>
    public void Reset() => Length = 0;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (Tensor t in _keys.Concat(_values))
        {
            t.Dispose();
        }
    }
}
