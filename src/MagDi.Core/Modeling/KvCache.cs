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

    /// <summary>
    /// Copies positions [<paramref name="sourceStart"/>, +<paramref name="length"/>) of row <paramref name="sourceRow"/> of
    /// <paramref name="source"/> (a prefilled prompt) into row <paramref name="targetRow"/> of this cache at
    /// <paramref name="targetStart"/>, in every layer: a shared prompt is prefilled once and copied into each sample's slot.
    /// </summary>
    internal void CopyRowFrom(KvCache source, int sourceRow, long sourceStart, long length, int targetRow, long targetStart)
    {
        if (targetStart + length > MaxLength || sourceStart + length > source.MaxLength)
        {
            throw new InvalidOperationException($"KV cache copy of {length} positions at {targetStart} exceeds the capacity of {MaxLength}.");
        }

        using (no_grad())
        {
            for (int layer = 0; layer < _keys.Length; layer++)
            {
                using Tensor kSrc = source._keys[layer].narrow(0, sourceRow, 1).narrow(2, sourceStart, length);  // [1,KvH,len,hd]
                using Tensor vSrc = source._values[layer].narrow(0, sourceRow, 1).narrow(2, sourceStart, length);
                using Tensor kDst = _keys[layer].narrow(0, targetRow, 1).narrow(2, targetStart, length);
                using Tensor vDst = _values[layer].narrow(0, targetRow, 1).narrow(2, targetStart, length);
                kDst.copy_(kSrc);
                vDst.copy_(vSrc);
            }
        }
    }

    /// <summary>
    /// Returns a new cache of the same capacity holding rows <paramref name="rowIndices"/> (int64 [R]) with positions
    /// [<paramref name="sourceStart"/>, +<paramref name="length"/>) moved to <paramref name="targetStart"/>; every other
    /// position is zero. Continuous batching uses it to drop finished rows and to move the live positions left (or right,
    /// to make room for a longer prompt). This cache is disposed.
    /// </summary>
    internal KvCache Relayout(Tensor rowIndices, long sourceStart, long length, long targetStart)
    {
        if (targetStart + length > MaxLength || sourceStart + length > MaxLength)
        {
            throw new InvalidOperationException($"KV cache relayout of {length} positions to {targetStart} exceeds the capacity of {MaxLength}.");
        }

        int rows = (int)rowIndices.shape[0];
        var keys = new Tensor[_keys.Length];
        var values = new Tensor[_values.Length];
        using (no_grad())
        {
            for (int layer = 0; layer < _keys.Length; layer++)
            {
                keys[layer] = Move(_keys[layer]);
                values[layer] = Move(_values[layer]);
            }
        }

        var result = new KvCache(keys, values, rows, MaxLength) { Length = (int)(targetStart + length) };
        Dispose();
        return result;

        Tensor Move(Tensor buffer) // [B,KvH,MaxLength,hd] -> [R,KvH,MaxLength,hd]
        {
            Tensor moved = zeros([rows, buffer.shape[1], MaxLength, buffer.shape[3]], buffer.dtype, buffer.device).DetachFromDisposeScope();
            if (length > 0)
            {
                using Tensor picked = buffer.narrow(2, sourceStart, length).index_select(0, rowIndices);
                using Tensor target = moved.narrow(2, targetStart, length);
                target.copy_(picked);
            }

            return moved;
        }
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
